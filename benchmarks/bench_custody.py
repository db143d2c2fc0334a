"""Custody benchmarks (issue #5 targets) → JSON.

    python benchmarks/bench_custody.py --out benchmarks/results/bench_custody.json
    python benchmarks/bench_custody.py --backend both --parts appends,verify,migrate
        (issue #18: the same appends and verify on SQLite and on PostgreSQL, one run, and a
        SQLite workspace of --verify-entries rows migrated to PostgreSQL; the
        PostgreSQL server is a throwaway one from tests/pg_support.py, fsync on, on this
        machine, reached over TCP on 127.0.0.1; writes bench_custody_backends.json)

Measures, on this machine:
- opening the sealed decoder the way a reveal does: analyst login (Argon2id with the
  *default* tuned parameters) + unwrap of the grant key + AES-GCM decrypt + sha256 check +
  building the model from the bytes (``FaceDecoder.from_bytes`` when uunet.inference and a
  decoder exist, else a safetensors load);  target <= 1.5 s
- 10,000 audit appends, each its own committed transaction (synchronous=FULL, signed,
  checkpoint every 1,000);  target <= 10 s
- verifying a log of 100,000 entries (chain, signatures, 100 checkpoint roots);  target <= 30 s
- optionally (``--public-video``) reveal throughput: ROI read + U_d for all faces of each
  frame, as a ratio to plain decoding of the same file in the same run.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from forensics_app.core import custody as cu  # noqa: E402


def _weights() -> tuple[bytes, dict, str]:
    """The shipped U_d if there is one, else an untrained U_d of the default size."""
    return _decoder_bytes(REPO / "models" / "ud.safetensors")


def _build(weights: bytes, card: dict):
    from forensics_app.uunet.inference import FaceDecoder

    return FaceDecoder.from_bytes(weights, card), "FaceDecoder.from_bytes"


def bench_open(tmp: Path) -> dict:
    os.environ.pop("FORENSICS_KDF_PROFILE", None)  # the default, tuned parameters
    ws = cu.Workspace.open(tmp / "open", create=True)
    cu.add_user(ws, "carol", "admin", "demo-carol")
    carol = cu.login(ws, "carol", "demo-carol")
    for name, role in (("alice", "analyst"), ("bob", "supervisor")):
        cu.add_user(ws, name, role, f"demo-{name}", by=carol)
    weights, card, source = _weights()
    wpath = tmp / "ud.safetensors"
    wpath.write_bytes(weights)
    cu.seal_model(ws, wpath, card, ["bob"], carol)
    ev = tmp / "ev.bin"
    ev.write_bytes(b"x" * 4096)
    alice = cu.login(ws, "alice", "demo-alice")
    cu.create_case(ws, alice, "B-1")
    sha = cu.add_evidence(ws, alice, "B-1", ev).sha256
    req = cu.create_request(ws, alice, "B-1", sha, (0, 10), "bench", "bench")
    grant = cu.approve(ws, cu.login(ws, "bob", "demo-bob"), req.id)
    import torch  # noqa: F401  (imported once at program start, not per opening)

    runs = []
    for _ in range(3):
        t0 = time.perf_counter()
        session = cu.login(ws, "alice", "demo-alice")
        t1 = time.perf_counter()
        cu.check_grant(ws, grant, session, sha)
        model = cu.load_sealed(ws, grant.model_sha256)
        key = session.unwrap(grant.doc["wrapped_key"], grant.wrap_context())
        plain = model.decrypt(key)
        t2 = time.perf_counter()
        _, how = _build(plain, model.card)
        t3 = time.perf_counter()
        runs.append({"kdf_login_s": t1 - t0, "verify_unwrap_decrypt_s": t2 - t1, "load_s": t3 - t2,
                     "total_s": t3 - t0})  # fmt: skip
    ws.close()
    best = min(runs, key=lambda r: r["total_s"])
    return {"weights": source, "weights_bytes": len(weights), "loader": how, "runs": runs,
            "total_s": best["total_s"], "target_s": 1.5, "pass": best["total_s"] <= 1.5}  # fmt: skip


class Stores:
    """Makes the benchmark's workspaces on one backend: SQLite files, or fresh databases on
    a throwaway PostgreSQL server (fsync on) opened as the application role."""

    def __init__(self, backend: str) -> None:
        self.backend, self.server = backend, None
        if backend == "postgresql":
            sys.path.insert(0, str(REPO / "tests"))
            import pg_support

            server = pg_support.start_or_explain(fsync=True)
            if isinstance(server, str):
                raise SystemExit(f"bench_custody: no PostgreSQL server: {server}")
            self.server, self.app = server, pg_support.APP

    def open(self, root: Path, checkpoint_every: int = 1000) -> cu.Workspace:
        if self.server is None:
            return cu.Workspace.open(root, create=True, checkpoint_every=checkpoint_every)
        db = self.server.new_database()
        cu.Workspace.open(root, create=True, db=db, app_role=self.app).close()
        return cu.Workspace.open(root, checkpoint_every=checkpoint_every)

    def describe(self) -> dict:
        if self.server is None:
            return {"backend": "sqlite", "journal": "WAL"}
        with self.server.admin() as conn:
            version = conn.execute("SHOW server_version").fetchone()[0]
        return {"backend": "postgresql", "server": version, "fsync": True,
                "connection": "TCP 127.0.0.1, same machine", "role": self.app}  # fmt: skip

    def close(self) -> None:
        if self.server is not None:
            self.server.stop()


def bench_appends(
    tmp: Path, n: int = 10_000, durable: bool = True, stores: Stores | None = None
) -> dict:
    """``n`` appends, each its own committed transaction (fsync'd when ``durable``)."""
    stores = stores or Stores("sqlite")
    ws = stores.open(tmp / f"appends-{durable}")
    t0, c0 = time.perf_counter(), time.process_time()
    for i in range(n):
        with ws.store.transaction(durable=durable):
            ws.audit.append("alice", "analyst", "consultation", case_id="B-1",
                            object=f"frame:{i}", details={"i": i})  # fmt: skip
    elapsed, cpu = time.perf_counter() - t0, time.process_time() - c0
    checkpoints = len(ws.store.list_checkpoints())
    ws.close()
    return {"appends": n, "durable_fsync_each": durable, "seconds": elapsed, "cpu_seconds": cpu,
            "per_append_ms": 1000 * elapsed / n, "checkpoints": checkpoints,
            "target_s": 10.0, "pass": elapsed <= 10.0}  # fmt: skip


def bench_verify(tmp: Path, n: int = 100_000, stores: Stores | None = None) -> dict:
    ws = (stores or Stores("sqlite")).open(tmp / "verify")
    t0 = time.perf_counter()
    batch = 5000
    for start in range(0, n, batch):  # filled in batches to keep the setup short
        with ws.store.transaction(durable=False):
            for i in range(start, min(n, start + batch)):
                ws.audit.append("alice", "analyst", "consultation", case_id="B-1",
                                object=f"frame:{i}", details={"i": i})  # fmt: skip
    fill = time.perf_counter() - t0
    t0, c0 = time.perf_counter(), time.process_time()
    summary = ws.audit.verify()
    elapsed, cpu = time.perf_counter() - t0, time.process_time() - c0
    ws.close()
    return {"entries": summary["entries"], "checkpoints": summary["checkpoints"],
            "fill_seconds": fill, "seconds": elapsed, "cpu_seconds": cpu, "target_s": 30.0,
            "pass": elapsed <= 30.0}  # fmt: skip


def bench_migrate(tmp: Path, n: int, stores: Stores) -> dict:
    """``forensics workspace migrate``: a SQLite workspace of ``n`` entries onto a fresh
    PostgreSQL database (source verified, rows copied in one transaction, copy verified)."""
    from forensics_app.core.custody.migrate import migrate_workspace

    root = tmp / "migrate"
    ws = Stores("sqlite").open(root)
    for start in range(0, n, 5000):
        with ws.store.transaction(durable=False):
            for i in range(start, min(n, start + 5000)):
                ws.audit.append("alice", "analyst", "consultation", case_id="B-1",
                                object=f"frame:{i}", details={"i": i})  # fmt: skip
    ws.close()
    t0 = time.perf_counter()
    result = migrate_workspace(root, stores.server.new_database(), app_role=stores.app)
    elapsed = time.perf_counter() - t0
    return {"entries": result["after"]["entries"], "rows": sum(result["rows"].values()),
            "seconds": elapsed, "includes": "verify of the source + copy + verify of the copy",
            "same_head": result["after"]["head"] == result["before"]["head"]}  # fmt: skip


def make_public_stream(sample: Path, out: Path, frames: int) -> dict:
    """A stand-in public stream for throughput: the sample's frames with real detector boxes
    hidden by real ROI messages, H.264 CRF 23. Faces are not replaced (no U_e needed to time
    the reveal; its cost depends on the number and size of boxes, not on their content)."""
    from forensics_app.core.detect import default_detector
    from forensics_app.core.stego import RoiMessage, clip_boxes, embed
    from forensics_app.core.video import VideoReader, VideoWriter

    detector = default_detector()
    boxes_total = 0
    with VideoReader(sample) as reader:
        info = reader.info
        writer = VideoWriter(out, info.width, info.height, 10, codec="h264", crf=23)
        for frame in reader.frames(0, frames):
            boxes = tuple(b.to_head().clip(info.width, info.height).as_tuple()
                          for b in detector.detect(frame.image))  # fmt: skip
            boxes = clip_boxes(tuple(b for b in boxes if b[2] >= 4 and b[3] >= 4)[:16],
                               info.width, info.height)  # fmt: skip
            boxes_total += len(boxes)
            writer.write(embed(frame.image, RoiMessage(1, frame.index, boxes)))
        writer.close()
    return {"frames": frames, "boxes": boxes_total}


def _decoder_bytes(path: Path) -> tuple[bytes, dict, str]:
    if path.is_file():
        return path.read_bytes(), json.loads(path.with_suffix(".json").read_text()), str(path)
    import torch

    from forensics_app.uunet.export import export_model
    from forensics_app.uunet.networks import build_network

    torch.manual_seed(0)  # no shipped U_d yet: an untrained one of the default size
    tmp = Path(tempfile.mkdtemp()) / "ud.safetensors"
    card = export_model(build_network("unet_decoder"), "unet_decoder", {}, tmp, role="decoder")
    return tmp.read_bytes(), card, "untrained unet_decoder (default config)"


def granted_workspace(tmp: Path, public_video: Path, decoder_path: Path, limit: int):  # noqa: ANN201
    """A workspace at ``tmp/reveal`` with the decoder sealed, ``public_video`` as evidence and
    alice's request for its first ``limit`` frames approved by bob: (ws, grant, decoder)."""
    weights, card, source = _decoder_bytes(decoder_path)
    ws = cu.Workspace.open(tmp / "reveal", create=True)
    cu.add_user(ws, "carol", "admin", "demo-carol")
    carol = cu.login(ws, "carol", "demo-carol")
    cu.add_user(ws, "alice", "analyst", "demo-alice", by=carol)
    cu.add_user(ws, "bob", "supervisor", "demo-bob", by=carol)
    (tmp / "ud.safetensors").write_bytes(weights)
    cu.seal_model(ws, tmp / "ud.safetensors", card, ["bob"], carol)
    alice = cu.login(ws, "alice", "demo-alice")
    cu.create_case(ws, alice, "B-2")
    sha = cu.add_evidence(ws, alice, "B-2", public_video).sha256
    req = cu.create_request(ws, alice, "B-2", sha, (0, limit - 1), "bench", "bench")
    grant = cu.approve(ws, cu.login(ws, "bob", "demo-bob"), req.id)
    return ws, grant, source


def bench_reveal(tmp: Path, public_video: Path, decoder_path: Path, limit: int) -> dict:
    """Frames/s of the reveal over a real grant, whole frames with every face: frame by frame
    (``RevealSession.reveal_frame``, what the GUI does on a seek) and over a range
    (``reveal_range``: decoding and ROI reading ahead on a thread, the faces of 8 frames in
    one U_d call), each against plain decoding of the same file in the same run (timed
    before and after, the mean taken)."""
    from forensics_app.core.video import VideoReader

    os.environ["FORENSICS_KDF_PROFILE"] = "fast"  # KDF is timed in bench_open, not here
    ws, grant, source = granted_workspace(tmp, public_video, decoder_path, limit)
    alice = cu.login(ws, "alice", "demo-alice")

    def plain_fps() -> float:
        with VideoReader(public_video) as reader:
            t0 = time.perf_counter()
            n_plain = sum(1 for _ in reader.frames(0, limit))
            return n_plain / (time.perf_counter() - t0)

    from forensics_app.uunet.inference import FaceDecoder

    class Timed:  # the real decoder, with the time spent in U_d counted
        def __init__(self, inner) -> None:
            self.inner, self.seconds = inner, 0.0

        def decode(self, faces):
            t = time.perf_counter()
            out = self.inner.decode(faces)
            self.seconds += time.perf_counter() - t
            return out

    timed: list[Timed] = []

    def factory(w: bytes, c: dict) -> Timed:
        timed.append(Timed(FaceDecoder.from_bytes(w, c)))
        return timed[-1]

    plain = [plain_fps()]
    with cu.RevealSession(ws, alice, grant.id, decoder_factory=factory) as session:
        n = min(limit, session.frame_count)
        faces = 0
        t0 = time.perf_counter()
        for i in range(n):
            faces += len(session.reveal_frame(i).faces)
        per_frame = time.perf_counter() - t0
        ud_per_frame, timed[0].seconds = timed[0].seconds, 0.0
        plain.append(plain_fps())
        t0 = time.perf_counter()
        ranged_faces = sum(len(f.faces) for f in session.reveal_range(0, n - 1))
        ranged = time.perf_counter() - t0
        ud_ranged = timed[0].seconds
        plain.append(plain_fps())
        # what the GUI's "Save frames…" and the CLI's reveal do: the range revealed and every
        # exhibit PNG written (three whole frames and three crops a face, hashed, logged)
        t0 = time.perf_counter()
        session.write(tmp / "written", frames=(0, n - 1))
        written = time.perf_counter() - t0
        written_bytes = sum(f.stat().st_size for f in (tmp / "written").rglob("*") if f.is_file())
    plain.append(plain_fps())
    ws.close()
    os.environ.pop("FORENSICS_KDF_PROFILE", None)
    plain_mean = sum(plain) / len(plain)
    fps, range_fps = n / per_frame, n / ranged
    return {"video": str(public_video), "decoder": source, "frames": n, "faces": faces,
            "plain_decode_fps": plain_mean, "plain_decode_fps_runs": plain,
            "reveal_fps": fps, "ratio_to_plain": fps / plain_mean,
            "ud_ms_per_frame": 1000 * ud_per_frame / n,
            "rest_ms_per_frame": 1000 * (per_frame - ud_per_frame) / n,
            "range_reveal": {
                "faces": ranged_faces, "fps": range_fps, "ratio_to_plain": range_fps / plain_mean,
                "ud_ms_per_frame": 1000 * ud_ranged / n,
                "rest_ms_per_frame": 1000 * (ranged - ud_ranged) / n,
                "target_ratio": 0.5, "pass": range_fps / plain_mean >= 0.5,
            },
            "write": {
                "fps": n / written, "ratio_to_plain": n / written / plain_mean,
                "mib": round(written_bytes / 2**20, 1),
            },
            "torch_threads": __import__("torch").get_num_threads()}  # fmt: skip


def _core(result: dict, tmp: Path, args: argparse.Namespace) -> None:
    parts = set(args.parts.split(","))
    if "open" in parts:
        result["open_sealed_decoder"] = bench_open(tmp)
        print("open:", result["open_sealed_decoder"]["total_s"], flush=True)
    if "appends" in parts:
        result["audit_appends_wal_normal"] = bench_appends(tmp, args.appends, False)
        print("appends (WAL NORMAL):", result["audit_appends_wal_normal"]["seconds"], flush=True)
        result["audit_appends_durable"] = bench_appends(tmp, args.appends, True)
        print("appends (fsync each):", result["audit_appends_durable"]["seconds"], flush=True)
    if "verify" in parts:
        result["audit_verify"] = bench_verify(tmp, args.verify_entries)
        print("verify:", result["audit_verify"]["seconds"], flush=True)


def _backends(result: dict, tmp: Path, args: argparse.Namespace) -> None:
    """The store timings (appends, verify) on each backend asked for, one run."""
    parts = set(args.parts.split(","))
    names = ("sqlite", "postgresql") if args.backend == "both" else (args.backend,)
    result["backends"] = {}
    for name in names:
        stores = Stores(name)
        try:
            out: dict = {"store": stores.describe()}
            if "appends" in parts:
                out["audit_appends_fast"] = bench_appends(tmp / name, args.appends, False, stores)
                out["audit_appends_durable"] = bench_appends(tmp / name, args.appends, True, stores)
                print(name, "appends (durable):", out["audit_appends_durable"]["seconds"])
            if "verify" in parts:
                out["audit_verify"] = bench_verify(tmp / name, args.verify_entries, stores)
                print(name, "verify:", out["audit_verify"]["seconds"], flush=True)
            if "migrate" in parts and name == "postgresql":
                out["migrate_from_sqlite"] = bench_migrate(tmp / name, args.verify_entries, stores)
                print(name, "migrate:", out["migrate_from_sqlite"]["seconds"], flush=True)
        finally:
            stores.close()
        result["backends"][name] = out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", help="default: benchmarks/results/bench_custody[_BACKEND].json")
    parser.add_argument("--verify-entries", type=int, default=100_000)
    parser.add_argument("--appends", type=int, default=10_000)
    parser.add_argument("--parts", default="open,appends,verify", help="which core timings")
    parser.add_argument(
        "--backend",
        choices=("sqlite", "postgresql", "both"),
        help="time appends and verify on this store (both: side by side); default: the "
        "SQLite-only core timings of issue #5",
    )
    parser.add_argument("--reveal", action="store_true", help="also time the reveal")
    parser.add_argument("--skip-core", action="store_true", help="only the reveal timing")
    parser.add_argument(
        "--public-video", help="public stream with hidden ROIs (default: build one)"
    )
    parser.add_argument("--decoder", default=str(REPO / "models" / "ud.safetensors"))
    parser.add_argument("--frames", type=int, default=300)
    parser.add_argument("--torch-threads", type=int, help="torch.set_num_threads for the reveal")
    args = parser.parse_args(argv)
    if args.out is None:
        suffix = {None: "", "both": "_backends"}.get(args.backend, f"_{args.backend}")
        args.out = str(REPO / "benchmarks" / "results" / f"bench_custody{suffix}.json")
    if args.torch_threads:
        import torch

        torch.set_num_threads(args.torch_threads)
    result: dict = {
        "machine": {
            "platform": platform.platform(),
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
        },  # fmt: skip
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "load_average_at_start": os.getloadavg(),
        "cpu_affinity": sorted(os.sched_getaffinity(0)),
    }
    if args.backend:
        with tempfile.TemporaryDirectory() as tmp:
            _backends(result, Path(tmp), args)
    elif not args.skip_core:
        with tempfile.TemporaryDirectory() as tmp:
            _core(result, Path(tmp), args)
    if args.reveal:
        with tempfile.TemporaryDirectory() as tmp:
            video = Path(args.public_video) if args.public_video else None
            if video is None:
                video = Path(tmp) / "public.mkv"
                result["public_stream"] = make_public_stream(
                    REPO / "resources" / "samples" / "vtest_cut.avi", video, args.frames
                )
            result["reveal"] = bench_reveal(Path(tmp), video, Path(args.decoder), args.frames)
            print("reveal fps:", result["reveal"]["reveal_fps"], flush=True)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
