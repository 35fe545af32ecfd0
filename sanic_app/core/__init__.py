"""The transport-free core: a protocol-free call in, named outputs out.

Stages, a module each: decode (request values -> arrays), imaging (bytes -> pixels),
preprocess (pixels -> request bytes), pack/unpack (fastpack), call (upstream), postprocess.
Nothing here knows HTTP or JSON; the adapters in ``sanic_app.http`` do.
"""
