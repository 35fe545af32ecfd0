"""The issue-17 micro tools: the profile's shares leave idle samples out and give each busy
sample to one part (the first that matches), and the gRPC bench's request is a real Predict."""
from collections import Counter

from bench.micro.bench_grpc_call import predict_bytes
from bench.micro.profile_request_overhead import shares
from sanic_app.protos import serving_pb2

LOOP = ("worker_serve (sanic/worker/serve.py:1)", "run_forever (loop.c:1)")


def test_shares_drop_idle_samples_and_count_each_busy_sample_once():
    stacks = Counter({
        LOOP + ("uv__io_poll (linux.c:1)", "epoll_wait (libc.so.6)"): 50,  # idle
        LOOP + ("post_model (sanic_app/http/tfserving.py:1)", "InputDecoder.__call__ (d.py:1)",
                "_decode_jpeg (sanic_app/core/decoding/__init__.py:1)", "0x1 (simplejpeg/_jpeg.so)"): 6,
        LOOP + ("post_model (sanic_app/http/tfserving.py:1)", "Upstream.call (u.py:1)",
                "UnaryUnaryCall._invoke (grpc/aio/_call.py:1)", "sendmsg (libc.so.6)"): 3,
        LOOP + ("uv__read (stream.c:1)",): 1,
    })
    busy, parts = shares(stacks)
    got = dict(parts)
    assert busy == 10
    assert got["JPEG decode (libjpeg-turbo via simplejpeg, header + marker scan)"] == 0.6
    assert got["grpc.aio call on the loop (call object, task, sendmsg)"] == 0.3
    assert got["event loop, socket reads, other"] == 0.1
    assert abs(sum(got.values()) - 1.0) < 1e-9


def test_grpc_bench_sends_an_f32_1x8_predict():
    request = serving_pb2.PredictRequest.FromString(predict_bytes())
    assert request.model_spec.name == "tiny"
    x = request.inputs["x"]
    assert [d.size for d in x.tensor_shape.dim] == [1, 8] and len(x.tensor_content) == 32


STRACE_SUMMARY = """\
% time     seconds  usecs/call     calls    errors syscall
------ ----------- ----------- --------- --------- ----------------
 62.64    0.457052         350      1303        18 futex
  1.02    0.045443          10      4381           write
  0.44    0.019458           6      2924      1451 recvmsg
------ ----------- ----------- --------- --------- ----------------
100.00    0.521953          60      8608      1469 total
"""


def test_strace_summary_is_read_as_calls_per_syscall_without_the_total():
    from bench.micro.syscalls_per_request import counts

    assert counts(STRACE_SUMMARY) == {"futex": 1303, "write": 4381, "recvmsg": 2924}
