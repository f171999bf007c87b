"""`convmend demo` (`make demo`): the engine on the default case, with nothing to download.

Today it shows the foundation every later step stands on: the pretrained MobileNetV2 of
../shared/DATA.md exported to ONNX by torch.onnx.export, and a Keras MobileNetV2 converted to
TFLite, each read into convmend's IR and run by its interpreter on the packaged images, next
to ONNX Runtime / LiteRT: accuracy on the labeled photos, top-1 agreement, the largest
relative error at the output, per node in isolation, and through the whole network.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from convmend import engine, fileio, images
from convmend.contract import contract_of
from convmend.exactness import compare_with_native

OUTPUT = Path("build") / "demo"


def _inputs(path: Path, image_set: images.ImageSet) -> list[tuple[str, np.ndarray]]:
    """Each image as a batch of one, preprocessed by the model's input contract."""
    contract = contract_of(path)
    return [(item.name, contract.batch([item.load()])) for item in image_set]


def _accuracy(path: Path, inputs: list[tuple[str, np.ndarray]],
              image_set: images.ImageSet) -> tuple[int, int]:
    interp = engine.Interpreter(engine.load(path))
    correct = labeled = 0
    for (_, x), item in zip(inputs, image_set, strict=True):
        if item.label is None:
            continue
        labeled += 1
        correct += int(np.argmax(interp.run([x])[0]) == item.label)
    return correct, labeled


def main() -> int:
    from convmend.zoo import build

    OUTPUT.mkdir(parents=True, exist_ok=True)
    image_set = images.default_images()
    print(f"convmend demo: {len(image_set)} packaged images "
          f"({sum(1 for i in image_set if i.label is not None)} labeled ImageNet photos)")
    cases = [
        ("MobileNetV2, pretrained, torch.onnx.export", build.onnx_from_torch("mobilenet_v2")),
        ("MobileNetV2, seeded Keras, TFLiteConverter float32",
         build.tflite_from_keras("mobilenet_v2", mode="float32")),
    ]
    summary = []
    for title, path in cases:
        print(f"\n== {title}\n   {path}")
        graph = engine.load(path)
        info = engine.summarize(graph)
        top_ops = ", ".join(f"{op} {n}" for op, n in list(info["ops"].items())[:6])
        print(f"   IR: {info['node_count']} nodes, {info['parameter_count']:,} parameters; "
              f"{top_ops}")
        inputs = _inputs(path, image_set)
        start = time.perf_counter()
        report = compare_with_native(path, inputs)
        seconds = time.perf_counter() - start
        worst_isolated = report.worst_isolated
        print(f"   convmend vs its native runtime on {report.images} images: same top-1 on "
              f"{report.same_top1}, output relative error {report.output_relative_error:.1e}")
        print(f"   {len(report.compared)} of {report.ir_values} intermediate tensors compared; "
              f"each node alone: worst relative error "
              f"{worst_isolated.worst_relative_error if worst_isolated else float('nan'):.1e}")
        if path.suffix == ".onnx":
            correct, labeled = _accuracy(path, inputs, image_set)
            print(f"   top-1 accuracy on the labeled photos (interpreter): {correct}/{labeled}")
        print(f"   ({seconds:.1f} s)")
        summary.append({"case": title, "model": str(path), **report.to_dict()})
    out = OUTPUT / "engine.json"
    fileio.write_json(out, {"cases": summary})
    print(f"\nreport written to {out}")
    print("localize and repair come with the next milestones (see README: status).")
    return 0
