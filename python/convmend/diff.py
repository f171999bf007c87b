"""How far a converted model is from its source, image by image, each model run in its own
native runtime and fed by its own input contract."""

from __future__ import annotations

import dataclasses
import io
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from convmend.errors import ConvmendError
from convmend.images import ImageSet

BATCH = 8


@dataclasses.dataclass
class ModelSide:
    """One side of a diff: the model, how it is fed, and its outputs on the images."""

    path: Path
    format: str
    contract: Any  # convmend.contract.InputContract
    outputs: np.ndarray  # (images, classes), float64
    seconds: float


def _progress(label: str, total: int) -> Callable[[int], None]:
    """A one-line progress bar on stderr when it is a terminal; silent otherwise."""
    if not sys.stderr.isatty() or total < 2:
        return lambda done: None
    start = time.monotonic()

    def show(done: int) -> None:
        width = 30
        filled = int(width * done / total)
        rate = done / max(time.monotonic() - start, 1e-9)
        end = "\n" if done >= total else ""
        sys.stderr.write(f"\r{label} [{'#' * filled}{'.' * (width - filled)}] {done}/{total} "
                         f"({rate:.1f} img/s){end}")
        sys.stderr.flush()

    return show


def run_side(path: str | Path, images: ImageSet, override: str | None = None,
             threads: int | None = None, label: str = "") -> ModelSide:
    """Run a model natively on every image, fed as its contract says (or ``override``)."""
    from convmend import contract as contracts
    from convmend.convert.check import model_format
    from convmend.runners import open_runner

    path = Path(path)
    fmt = model_format(path)
    runner = open_runner(path, num_threads=threads)
    contract = contracts.contract_of(path, runner, override)
    show = _progress(label or path.name, len(images))
    parts = []
    start = time.perf_counter()
    items = list(images)
    for first in range(0, len(items), BATCH):
        chunk = items[first:first + BATCH]
        batch = contract.batch([item.load() for item in chunk])
        try:
            out = runner.run({contract.input_name: batch})[0]
        except ConvmendError:
            raise
        except Exception as exc:  # the runtime's own failure on this model
            raise ConvmendError(f"{path} failed to run in its runtime: "
                                f"{type(exc).__name__}: {str(exc).splitlines()[0][:300]}") from exc
        parts.append(np.asarray(out, dtype=np.float64).reshape(len(chunk), -1))
        show(first + len(chunk))
    seconds = time.perf_counter() - start
    return ModelSide(path, fmt, contract, np.concatenate(parts), seconds)


def _top(row: np.ndarray, k: int) -> list[int]:
    return [int(i) for i in np.argsort(-row, kind="stable")[:k]]


def compare(source: ModelSide, target: ModelSide, images: ImageSet) -> dict[str, Any]:
    """Per-image and total agreement of two sides' outputs on the same images."""
    from convmend import labels as label_names

    a, b = source.outputs, target.outputs
    if a.shape != b.shape:
        raise ConvmendError(f"the models' outputs differ in shape: {source.path.name} gives "
                            f"{a.shape[1]} values per image, {target.path.name} {b.shape[1]}")
    per_image = []
    for k, item in enumerate(images):
        sa, sb = a[k], b[k]
        top_a, top_b = _top(sa, 5), _top(sb, 5)
        diff = np.abs(sa - sb)
        norm = float(np.linalg.norm(sa) * np.linalg.norm(sb))
        entry: dict[str, Any] = {
            "image": item.name,
            "variant_of": item.variant_of,
            "label": item.label,
            "source_top1": top_a[0],
            "target_top1": top_b[0],
            "source_label": label_names.label_name(top_a[0], sa.size),
            "target_label": label_names.label_name(top_b[0], sb.size),
            "agree": top_a[0] == top_b[0],
            "top5_overlap": len(set(top_a) & set(top_b)) / 5.0,
            "max_abs_diff": float(diff.max()),
            "mean_abs_diff": float(diff.mean()),
            "relative_error": float(diff.max() / max(np.abs(sa).max(), 1e-30)),
            "cosine": float(sa @ sb / norm) if norm > 0 else (1.0 if diff.max() == 0 else 0.0),
        }
        per_image.append(entry)
    labeled = [e for e in per_image if e["label"] is not None]
    agree = sum(e["agree"] for e in per_image)
    n = len(per_image)
    summary: dict[str, Any] = {
        "images": n,
        "variants": images.num_variants,
        "top1_agreement": agree / n,
        "disagreement_percent": round(100.0 * (n - agree) / n, 2),
        "disagreeing_images": n - agree,
        "mean_top5_overlap": float(np.mean([e["top5_overlap"] for e in per_image])),
        "max_abs_diff": max(e["max_abs_diff"] for e in per_image),
        "mean_abs_diff": float(np.mean([e["mean_abs_diff"] for e in per_image])),
        "max_relative_error": max(e["relative_error"] for e in per_image),
        "min_cosine": min(e["cosine"] for e in per_image),
        "mean_cosine": float(np.mean([e["cosine"] for e in per_image])),
        "labeled_images": len(labeled),
    }
    if labeled:
        summary["source_accuracy"] = sum(e["source_top1"] == e["label"] for e in labeled) / len(
            labeled)
        summary["target_accuracy"] = sum(e["target_top1"] == e["label"] for e in labeled) / len(
            labeled)
    weak = weak_comparison(a)
    if weak:
        summary["weak_comparison"] = weak
    return {"summary": summary, "images": per_image}


def weak_comparison(outputs: np.ndarray) -> list[str]:
    """Why agreement measured on these source outputs says little, if it does: every image
    gets the same class (labels cannot disagree unless the target is badly off), or the
    outputs are probabilities saturated to 0 and 1 (a softmax of very large logits: any
    difference below the saturation is invisible, and max |diff| reads 0)."""
    reasons = []
    n = outputs.shape[0]
    if n >= 4 and len(set(outputs.argmax(axis=1).tolist())) == 1:
        reasons.append(f"the source predicts class {int(outputs[0].argmax())} for all {n} "
                       "images: label agreement is not informative")
    rows_sum_to_one = np.allclose(outputs.sum(axis=1), 1.0, atol=1e-3) and outputs.min() >= 0
    if rows_sum_to_one:
        saturated = int(np.sum(outputs.max(axis=1) >= 1.0 - 1e-6))
        if saturated * 2 >= n:
            reasons.append(f"the source's outputs are probabilities saturated to 0/1 on "
                           f"{saturated} of {n} images: differences under the saturation are "
                           "invisible (compare logits)")
    return reasons


def side_info(side: ModelSide) -> dict[str, Any]:
    from convmend.fileio import sha256_of

    return {"path": str(side.path), "format": side.format, "sha256": sha256_of(side.path),
            "contract": side.contract.to_dict(), "seconds": round(side.seconds, 3)}


def diff_models(src: str | Path, dst: str | Path, images: ImageSet,
                src_preprocess: str | None = None, dst_preprocess: str | None = None,
                threads: int | None = None) -> dict[str, Any]:
    """Run both models natively and compare; the document ``convmend diff --json`` writes."""
    from convmend import __version__

    source = run_side(src, images, src_preprocess, threads, label="source")
    target = run_side(dst, images, dst_preprocess, threads, label="target")
    result = compare(source, target, images)
    return {"tool": f"convmend {__version__}", "source": side_info(source),
            "target": side_info(target), **result}


def run_side_cached(path: str | Path, images: ImageSet, cache: str | Path,
                    override: str | None = None, threads: int | None = None) -> ModelSide:
    """``run_side``, reusing outputs saved in ``cache`` (an .npz) for the same model bytes,
    images and preprocessing; used by the matrix, where one source meets many targets."""
    from convmend import contract as contracts
    from convmend.convert.check import model_format
    from convmend.fileio import sha256_of, write_bytes_atomically

    cache = Path(cache)
    names = np.array([item.name for item in images])
    identity = np.array(sha256_of(path) + "|" + (override or ""))
    if cache.exists():
        try:
            with np.load(cache, allow_pickle=False) as saved:
                if str(saved["identity"]) == str(identity) and np.array_equal(saved["names"],
                                                                               names):
                    contract = contracts.InputContract.from_dict(
                        json.loads(str(saved["contract"])))
                    return ModelSide(Path(path), model_format(path), contract,
                                     saved["outputs"], float(saved["seconds"]))
        except (OSError, KeyError, ValueError):
            pass
    side = run_side(path, images, override, threads, label="source")
    buffer = io.BytesIO()
    np.savez(buffer, identity=identity, names=names, outputs=side.outputs,
             contract=np.array(json.dumps(side.contract.to_dict())), seconds=side.seconds)
    write_bytes_atomically(cache, buffer.getvalue())
    return side


# Two runs of one network in float32 agree when no image changes its top-1 and the relative
# logit error is at most the larger of FAITHFUL_ERROR and ROUNDING_FACTOR times the source's
# own float32 error (measured against a float64 run): source and target each round about that
# much, and a converter that orders a sum otherwise may double it. ResNet101 rounds 2.2e-4 by
# itself, so a fixed 1e-4 would call its faithful conversions faulty.
FAITHFUL_ERROR = 1e-4
ROUNDING_FACTOR = 4.0


def faithful_bound(own_float32_error: float | None) -> float:
    """The relative logit error within which a model agrees with a source whose own float32
    error is ``own_float32_error`` (None: not measured, FAITHFUL_ERROR)."""
    if own_float32_error is None:
        return FAITHFUL_ERROR
    return max(FAITHFUL_ERROR, ROUNDING_FACTOR * own_float32_error)


def float32_error(path: str | Path, images: ImageSet, cache: str | Path | None = None,
                  threads: int | None = None, limit: int | None = None) -> float:
    """How far a model's own float32 run is from exact arithmetic: over the images (the first
    ``limit`` of them), the largest output difference between its native runtime and a
    float64 run of its graph in convmend's interpreter, over the largest exact logit (the
    diff's relative error). A converted model that differs from its source by a small multiple
    of this differs by rounding alone."""
    from convmend import engine

    side = (run_side_cached(path, images, cache, threads=threads) if cache is not None
            else run_side(path, images, threads=threads, label="source"))
    exact = engine.Interpreter(engine.load(path), exact=True)
    worst = 0.0
    pairs = list(zip(images, side.outputs, strict=True))[:limit]
    for item, native in pairs:  # IR graphs may fix batch 1
        batch = side.contract.batch([item.load()])
        truth = np.asarray(exact.run([batch])[0], dtype=np.float64).reshape(-1)
        scale = max(float(np.abs(truth).max()), 1e-30)
        worst = max(worst, float(np.abs(native - truth).max()) / scale)
    return worst


def _main(argv: list[str]) -> int:
    """``python -m convmend.diff float32-error MODEL COUNT OUTPUTS_NPZ OUT_JSON``: the
    matrix measures a source's own rounding error in a process of its own."""
    from convmend import images
    from convmend.fileio import write_json

    if len(argv) != 5 or argv[0] != "float32-error":
        print("usage: python -m convmend.diff float32-error MODEL COUNT OUTPUTS_NPZ OUT_JSON",
              file=sys.stderr)
        return 2
    model, count, cache, out = argv[1], int(argv[2]), argv[3], argv[4]
    try:
        error = float32_error(model, images.default_images(count=count), cache, threads=1)
    except ConvmendError as exc:
        print(f"convmend: {exc}", file=sys.stderr)
        return 1
    write_json(out, {"model": model, "images": count, "float32_error": error})
    return 0


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
