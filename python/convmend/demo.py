"""`convmend demo` (`make demo`): the whole story on the default case, nothing to download.

1. Build the pretrained MobileNetV2 of ../shared/DATA.md (PyTorch) and convert it to ONNX
   with torch.onnx.export.
2. Today's exporter is faithful for MobileNetV2 (bench/results/matrix.md), so two faults of
   the kinds converters have been caught making are **planted** into the exported file, and
   the demo says so: one output channel of a 1x1 convolution carries a wrong weight
   (`param.value`) and a depthwise convolution's padding moved to the top-left
   (`hparam.padding`).
3. `diff`: both models in their own runtimes (PyTorch, ONNX Runtime) on the packaged images.
4. `localize`: which layer, which fault, confirmed by patching the IR.
5. `repair`: a fixed ONNX file, written beside the faulty one, proven in ONNX Runtime.

Everything goes to build/demo/: the models, the JSON reports and two HTML pages.
"""

from __future__ import annotations

import time
from pathlib import Path

from convmend import fileio, images

OUTPUT = Path("build") / "demo"


def plant_demo_faults(clean: Path, out: Path) -> list[tuple[str, str, str]]:
    """Write ``clean`` with the demo's two faults to ``out`` (contract sidecar included);
    (code, node name, description) of each."""
    from convmend import engine
    from convmend.contract import contract_of, write_contract

    graph = engine.load(clean)
    convs = [n for n in graph.nodes() if n["op"] == "Conv"]
    pointwise = next(n for n in convs[20:] if graph.constant(n["inputs"][1]).shape[2:] == (1, 1))
    weight = graph.constant(pointwise["inputs"][1]).copy()
    weight[5] *= 3.0
    graph.set_constant(pointwise["inputs"][1], weight)
    depthwise = next(n for n in convs[40:] if n["attrs"].get("group", 1) > 1
                     and n["attrs"]["pads"] == [1, 1, 1, 1])
    graph.set_attr(depthwise["name"], "pads", [2, 2, 0, 0])
    fileio.save_atomically(out, graph.save)
    write_contract(out, contract_of(clean))
    return [("param.value", pointwise["name"],
             f"output channel 5 of {pointwise['name']} has 3x its weight"),
            ("hparam.padding", depthwise["name"],
             f"{depthwise['name']} pads [2,2,0,0] instead of [1,1,1,1]")]


def _step(title: str) -> float:
    print(f"\n== {title}", flush=True)
    return time.perf_counter()


def main() -> int:
    from convmend import localize as localizing
    from convmend import repair as repairing
    from convmend.diff import diff_models
    from convmend.report_html import write_html, write_repair_html
    from convmend.zoo import build

    OUTPUT.mkdir(parents=True, exist_ok=True)
    image_set = images.default_images()
    labeled = sum(1 for i in image_set if i.label is not None)
    print(f"convmend demo: {len(image_set)} packaged images ({labeled} labeled ImageNet photos)")

    start = _step("1. source and conversion")
    clean = build.onnx_from_torch("mobilenet_v2")
    source = clean.parent / "torch.pth"
    print(f"   source: {source} (torchvision MobileNetV2, pretrained weights)")
    print(f"   torch.onnx.export (TorchScript): {clean}")
    faulty = OUTPUT / "mobilenet_v2_faulty.onnx"
    print("   today's exporter is faithful for this model, so the demo PLANTS two faults of "
          "kinds converters have made:")
    for code, _, text in plant_demo_faults(clean, faulty):
        print(f"     - {code}: {text}")
    print(f"   faulty target: {faulty} ({time.perf_counter() - start:.1f} s)")

    start = _step("2. diff: both models in their own runtimes (PyTorch, ONNX Runtime)")
    diff = diff_models(source, faulty, image_set)
    s = diff["summary"]
    print(f"   top-1 differs on {s['disagreeing_images']} of {s['images']} images; max |logit "
          f"diff| {s['max_abs_diff']:.3g}; relative {s['max_relative_error']:.3g}")
    if "source_accuracy" in s:
        print(f"   accuracy on the {s['labeled_images']} labeled photos: source "
              f"{100 * s['source_accuracy']:.0f}%, target {100 * s['target_accuracy']:.0f}%")
    fileio.write_json(OUTPUT / "diff.json", diff)
    print(f"   ({time.perf_counter() - start:.1f} s)")

    start = _step("3. localize: which layer, which fault")
    report = localizing.localize(source, faulty, images=image_set)
    for line in localizing.summary_lines(report, limit=5)[1:]:
        print(f"   {line}")
    fileio.write_json(OUTPUT / "localize.json", report)
    write_html(OUTPUT / "localize.html", report)
    print(f"   ({time.perf_counter() - start:.1f} s)")

    start = _step("4. repair: a fixed ONNX file, proven in ONNX Runtime on every image")
    repaired = OUTPUT / "mobilenet_v2_repaired.onnx"
    fixed = repairing.repair(source, faulty, repaired, images=image_set)
    for line in repairing.summary_lines(fixed)[1:]:
        print(f"   {line}")
    fileio.write_json(OUTPUT / "repair.json", fixed)
    write_repair_html(OUTPUT / "repair.html", fixed)
    print(f"   ({time.perf_counter() - start:.1f} s)")

    print(f"\nreports: {OUTPUT / 'localize.html'} and {OUTPUT / 'repair.html'} "
          f"(JSON beside them); repaired model: {repaired}")
    return 0 if fixed["status"] == "repaired" else 1
