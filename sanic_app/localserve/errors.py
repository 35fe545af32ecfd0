"""TF Serving's error statuses, reproduced in meaning and code for our backend.

Clients (the gateway among them) branch on the gRPC code and show the message to people, so
both follow what tensorflow_model_server answers for the same mistake.
"""
import grpc


class ServingError(Exception):
    """A request failed with a gRPC status code and a TF Serving-style message."""

    def __init__(self, code: grpc.StatusCode, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


def _joined(names) -> str:
    return ",".join(sorted(names))


def missing_model_spec() -> ServingError:
    return ServingError(grpc.StatusCode.INVALID_ARGUMENT, "Missing ModelSpec")


def servable_not_found(name: str, version: int | None) -> ServingError:
    wanted = f"Latest({name})" if version is None else f"Specific({name}, {version})"
    return ServingError(grpc.StatusCode.NOT_FOUND, f"Servable not found for request: {wanted}")


def unknown_label(label: str) -> ServingError:
    return ServingError(
        grpc.StatusCode.INVALID_ARGUMENT, f"Unrecognized servable version label: {label}"
    )


def no_versions(name: str) -> ServingError:
    return ServingError(grpc.StatusCode.NOT_FOUND, f"Could not find any versions of model {name}")


def no_such_version(name: str, version: int) -> ServingError:
    return ServingError(
        grpc.StatusCode.NOT_FOUND, f"Could not find version {version} of model {name}"
    )


def signature_not_found(signature_name: str) -> ServingError:
    return ServingError(
        grpc.StatusCode.FAILED_PRECONDITION,
        f'Serving signature key "{signature_name}" not found.',
    )


def input_size_mismatch(sent, expected) -> ServingError:
    sent, expected = set(sent), set(expected)
    return ServingError(
        grpc.StatusCode.INVALID_ARGUMENT,
        f"input size does not match signature: {len(sent)}!={len(expected)} "
        f"len({{{_joined(sent)}}}) != len({{{_joined(expected)}}}). "
        f"Sent extra: {{{_joined(sent - expected)}}}. "
        f"Missing but required: {{{_joined(expected - sent)}}}.",
    )


def input_not_in_request(alias: str, feed_name: str, sent) -> ServingError:
    return ServingError(
        grpc.StatusCode.INVALID_ARGUMENT,
        f"Signature input alias: {alias}(feed name: {feed_name}) not found in request and no "
        f"default value provided. Inputs expected to be in the request {{{_joined(sent)}}}, "
        f"or default input alias set: ",
    )


def tensor_parsing_error(alias: str) -> ServingError:
    return ServingError(grpc.StatusCode.INVALID_ARGUMENT, f"tensor parsing error: {alias}")


def unknown_output(alias: str, outputs) -> ServingError:
    return ServingError(
        grpc.StatusCode.INVALID_ARGUMENT,
        f"output tensor alias not found in signature: {alias} "
        f"Outputs expected to be in the set {{{_joined(outputs)}}}.",
    )


def duplicate_output(alias: str) -> ServingError:
    return ServingError(
        grpc.StatusCode.INVALID_ARGUMENT, f"duplicate output tensor alias: {alias}"
    )


def wrong_dtype(position: int, expected: str, given: str) -> ServingError:
    # TensorFlow's runtime check on a function argument, as TF Serving passes it through.
    return ServingError(
        grpc.StatusCode.INVALID_ARGUMENT,
        f"Expects arg[{position}] to be {expected} but {given} is provided",
    )


def wrong_shape(alias: str, expected: str, given: str) -> ServingError:
    # TF Serving leaves shapes to the graph, which fails with INVALID_ARGUMENT; our numpy
    # models check up front and say plainly what was expected.
    return ServingError(
        grpc.StatusCode.INVALID_ARGUMENT,
        f"Input '{alias}' has shape {given}, incompatible with the signature's {expected}",
    )


def no_metadata_field() -> ServingError:
    return ServingError(
        grpc.StatusCode.INVALID_ARGUMENT,
        "GetModelMetadataRequest must specify at least one metadata_field",
    )


def unsupported_metadata_field(field: str) -> ServingError:
    return ServingError(
        grpc.StatusCode.INVALID_ARGUMENT, f"Metadata field {field} is not supported"
    )
