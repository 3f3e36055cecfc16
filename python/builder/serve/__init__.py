"""`python -m builder serve`: the exported artifacts behind the Open Inference Protocol (KServe v2).

servables.py  which artifacts a serve run serves, their names, and how each is loaded
protocol.py   the protocol: metadata, request parsing with the model's tensor specs enforced,
              responses and errors (docs/serving.md)
app.py        the HTTP front (FastAPI/Starlette) every engine answers through
engine.py     options, the running-server handle, and the engine registry
triton.py     --engine triton: Triton Inference Server through PyTriton, in .venv-triton
ray_engine.py --engine ray: Ray Serve deployments, local or on a cluster (--address)
loadtest.py   `python -m builder loadtest`: bounded load through the protocol
"""
