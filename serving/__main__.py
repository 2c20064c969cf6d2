"""`python -m serving start|stop`: the portal's models on a local Ray Serve, and ending it (`make serve`,
`make serve-stop`); `start --address ADDR` deploys onto an existing cluster (`ray start --address` on each node)
instead of starting a local one. `python -m serving triton --out DIR`: a Triton model repository (serving/triton.py)."""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
from pathlib import Path

OBJECT_STORE_MB = 256


def _ray_cli() -> str:
    found = shutil.which("ray") or str(Path(sys.executable).with_name("ray"))
    if not Path(found).exists():
        raise SystemExit("ray is not installed: pip install -r requirements-serve.txt (make serve does)")
    return found


def start(port: int, cpus: int, address: str | None) -> None:
    import ray
    from ray import serve

    if address is None:
        subprocess.run(
            [_ray_cli(), "start", "--head", f"--num-cpus={cpus}", f"--object-store-memory={OBJECT_STORE_MB * 2**20}",
             "--include-dashboard=false", "--disable-usage-stats"],
            check=True,
        )  # fmt: skip
    ray.init(address=address or "auto", log_to_driver=False)
    # a joined cluster serves its nodes, so it listens on every interface (put it behind the API keys or a proxy)
    host = "127.0.0.1" if address is None else "0.0.0.0"  # noqa: S104
    serve.start(http_options={"host": host, "port": port})
    from serving.ray_app import run

    run()
    print(f"Ray Serve is up: HTTP API and KServe v2 at http://127.0.0.1:{port} (docs at /docs).")
    print(f"Point a portal at it: PORTAL_INFERENCE_URL=http://127.0.0.1:{port} make run; stop: make serve-stop")


def stop() -> None:
    import ray
    from ray import serve

    try:
        ray.init(address="auto", log_to_driver=False)
        serve.shutdown()
    except (ConnectionError, RuntimeError) as err:
        print(f"no running Ray Serve found ({err})")
    finally:
        subprocess.run([_ray_cli(), "stop"], check=False)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m serving", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    up = commands.add_parser("start", help="start a local Ray (or join --address) and deploy the models")
    up.add_argument("--port", type=int, default=8100)
    up.add_argument("--cpus", type=int, default=2, help="CPUs the local Ray may use")
    up.add_argument("--address", help="an existing cluster's address (ray start --address on each node)")
    commands.add_parser("stop", help="end Ray Serve and the local Ray")
    triton = commands.add_parser("triton", help="write a Triton model repository for every model")
    triton.add_argument("--out", type=Path, default=Path("build/triton"), help="the repository folder")
    triton.add_argument("--copy", action="store_true", help="copy the ONNX files instead of linking them")
    args = parser.parse_args(argv)
    if args.command == "start":
        start(args.port, args.cpus, args.address)
    elif args.command == "triton":
        from services.registry import Registry
        from services.settings import load_settings, parse_providers
        from serving.triton import write_repository
        from serving.v2_server import served_keys

        settings = load_settings()
        written = write_repository(Registry(settings.models_dir, parse_providers("cpu")), list(served_keys()), args.out,
                                   copy=args.copy)  # fmt: skip
        print(f"{len(written)} models in {args.out} ({sum(c.batching for c in written)} with dynamic batching)")
    else:
        stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
