"""Golden BatchNormalization cases (inference) from PyTorch in float64 and ONNX Runtime."""

import numpy as np
import torch
from golden import case, ort_run, rng, write

g = rng(3)
cases = []


def params(c):
    scale = g.uniform(0.5, 1.5, c).astype(np.float32)
    bias = g.uniform(-1, 1, c).astype(np.float32)
    mean = g.uniform(-1, 1, c).astype(np.float32)
    var = g.uniform(0.1, 2.0, c).astype(np.float32)
    return scale, bias, mean, var


def torch_bn(x_nc, scale, bias, mean, var, eps):
    as64 = [torch.from_numpy(a.astype(np.float64)) for a in (x_nc, mean, var, scale, bias)]
    return torch.nn.functional.batch_norm(as64[0], as64[1], as64[2], as64[3], as64[4],
                                          training=False, eps=eps).numpy()


def add(name, shape, eps=None, layout="NCHW"):
    x = g.uniform(-2, 2, shape).astype(np.float32)
    c = shape[-1] if layout == "NHWC" else shape[1]
    p = params(c)
    attrs = {} if eps is None else {"epsilon": eps}
    if layout == "NHWC":
        nc = np.moveaxis(x, -1, 1)
        y = np.moveaxis(torch_bn(nc, *p, eps or 1e-5), 1, -1)
        attrs["data_layout"] = "NHWC"
    else:
        y = torch_bn(x, *p, eps or 1e-5)
        # Cross-check with ONNX Runtime, the runtime convmend must reproduce.
        ort = ort_run("BatchNormalization", [x, *p], {} if eps is None else {"epsilon": eps})[0]
        assert np.abs(ort - y).max() < 1e-5
    cases.append(case(name, "BatchNormalization", attrs, [x, *p], [y], 1e-5))


add("bn_nchw", [2, 3, 3, 4])
add("bn_nchw_eps", [1, 4, 2, 3], eps=1e-3)
add("bn_rank2", [5, 6])
add("bn_rank3", [2, 3, 5])
add("bn_nhwc", [1, 3, 4, 5], layout="NHWC")
add("bn_nhwc_rank3_eps", [2, 4, 3], eps=0.01, layout="NHWC")

write("normalization", "make_normalization_cases.py", cases)
