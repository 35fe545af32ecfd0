"""Test vectors taken from TF Serving's own tests, shared by the unit and end-to-end tests of
the same rule (importable by name from anywhere under tests/, like gateway_process)."""

# http_rest_api_handler_test.cc, UnsupportedApiCalls: each answers 400 "Malformed request".
UNSUPPORTED_API_CALLS = [
    ("GET", "/v1/foo"), ("POST", "/v1/foo"), ("GET", "/v1/models/debug/model_name"),
    ("POST", "/v1/models"), ("GET", "/v1/models/foo:predict"),
    ("GET", "/v1/models/foo/version/50:predict"), ("POST", "/v1/models/foo/version/50:regress"),
    ("POST", "/v1/models/foo/versions/HELLO:regress"), ("POST", "/v1/models/foo/metadata"),
    ("POST", "/v1/models/foo/label/some_label:regress"),
    ("POST", "/v1/models/foo/versions/50/labels/some_label:regress"),
    ("POST", "/v1/models/foo/versions/some_label:regress"),
]
