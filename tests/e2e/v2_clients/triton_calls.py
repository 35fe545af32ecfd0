"""Runs inside the tritonclient venv (see venvs.py): one v2 call with tritonclient.http,
unchanged, against the gateway; prints the answer as JSON on stdout.

    python triton_calls.py URL health MODEL
    python triton_calls.py URL metadata MODEL
    python triton_calls.py URL infer MODEL REQUEST_JSON

REQUEST_JSON: {"inputs": [{"name", "datatype", "npy": path} | {"name", "files": [paths]}],
"binary_in": bool, "outputs": [names] | null, "binary_out": bool, "class_count": k}.
"""
import json
import sys

import numpy as np
import tritonclient.http as httpclient


def as_json(arr: np.ndarray) -> dict:
    data = arr.reshape(-1).tolist()
    if arr.dtype == object:
        data = [v.decode("utf-8") if isinstance(v, bytes) else v for v in data]
    return {"shape": list(arr.shape), "dtype": str(arr.dtype), "data": data}


def main(url, command, model, request=None):
    client = httpclient.InferenceServerClient(url=url.split("://", 1)[-1])
    if command == "health":
        return {"live": client.is_server_live(), "ready": client.is_server_ready(),
                "model_ready": client.is_model_ready(model),
                "unknown_model_ready": client.is_model_ready("no_such_model")}
    if command == "metadata":
        return client.get_model_metadata(model)
    req = json.loads(request)
    inputs = []
    for item in req["inputs"]:
        if "files" in item:
            arr = np.array([open(p, "rb").read() for p in item["files"]], dtype=object)
            tensor = httpclient.InferInput(item["name"], list(arr.shape), "BYTES")
        else:
            arr = np.load(item["npy"], allow_pickle=True)
            tensor = httpclient.InferInput(item["name"], list(arr.shape), item["datatype"])
        tensor.set_data_from_numpy(arr, binary_data=req.get("binary_in", True))
        inputs.append(tensor)
    outputs = None
    if req.get("outputs"):
        outputs = [httpclient.InferRequestedOutput(name, binary_data=req.get("binary_out", True),
                                                   class_count=req.get("class_count", 0))
                   for name in req["outputs"]]
    try:
        result = client.infer(model, inputs, outputs=outputs, request_id="req-7")
    except httpclient.InferenceServerException as exc:
        return {"error": exc.message(), "status": exc.status()}
    answer = result.get_response()
    return {"id": answer.get("id"),
            "outputs": {o["name"]: as_json(result.as_numpy(o["name"])) for o in answer["outputs"]}}


if __name__ == "__main__":
    print(json.dumps(main(*sys.argv[1:])))
