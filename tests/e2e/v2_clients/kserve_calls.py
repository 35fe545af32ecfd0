"""Runs inside the kserve venv (see venvs.py): the KServe Python SDK's REST client with the
v2 protocol, unchanged, against the gateway; prints the answer as JSON on stdout.

    python kserve_calls.py URL health MODEL
    python kserve_calls.py URL infer MODEL REQUEST_JSON   (as triton_calls.py; binary_in picks
                                                          the binary tensor extension)
"""
import asyncio
import json
import sys

import numpy as np
from kserve import InferenceRESTClient, InferInput, InferRequest, RESTConfig


async def main(url, command, model, request=None):
    client = InferenceRESTClient(RESTConfig(protocol="v2", retries=0, timeout=30))
    try:
        if command == "health":
            return {"live": await client.is_server_live(url), "ready": await client.is_server_ready(url),
                    "model_ready": await client.is_model_ready(url, model)}
        req = json.loads(request)
        inputs = []
        for item in req["inputs"]:
            if "files" in item:
                arr = np.array([open(p, "rb").read() for p in item["files"]], dtype=object)
                datatype = "BYTES"
            else:
                arr, datatype = np.load(item["npy"], allow_pickle=True), item["datatype"]
            tensor = InferInput(item["name"], list(arr.shape), datatype)
            tensor.set_data_from_numpy(arr, binary_data=req.get("binary_in", True))
            inputs.append(tensor)
        response = await client.infer(url, InferRequest(model, inputs, request_id="k-1"), model_name=model)
        out = {}
        for tensor in response.outputs:
            arr = tensor.as_numpy()
            data = arr.reshape(-1).tolist()
            if arr.dtype == object:
                data = [v.decode() if isinstance(v, bytes) else v for v in data]
            out[tensor.name] = {"shape": list(arr.shape), "dtype": str(arr.dtype), "data": data}
        return {"id": response.id, "outputs": out}
    finally:
        await client.close()


if __name__ == "__main__":
    print(json.dumps(asyncio.run(main(*sys.argv[1:]))))
