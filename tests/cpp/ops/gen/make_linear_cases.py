"""Golden cases of FullyConnected (PyTorch, float64), Gemm and MatMul (ONNX Runtime)."""

import numpy as np
import torch
from golden import case, ort_run, rng, write

g = rng(2)
cases = []


def rand(*shape):
    return g.uniform(-1.0, 1.0, size=shape).astype(np.float32)


# FullyConnected (TFLite FULLY_CONNECTED): Y = X W^T + B, X flattened to [-1, in] by default.
def fc(name, x, w, b, keep_num_dims=0, activation=None):
    t = torch.nn.functional.linear(
        torch.from_numpy(x.astype(np.float64)).reshape(-1, w.shape[1]) if not keep_num_dims
        else torch.from_numpy(x.astype(np.float64)),
        torch.from_numpy(w.astype(np.float64)),
        None if b is None else torch.from_numpy(b.astype(np.float64)))
    attrs = {"keep_num_dims": keep_num_dims}
    if activation == "RELU":
        t = torch.relu(t)
        attrs["fused_activation"] = "RELU"
    cases.append(case(name, "FullyConnected", attrs, [x, w, b], [t.numpy()], 1e-5))


fc("fc_2d", rand(3, 5), rand(4, 5), rand(4))
fc("fc_flatten_4d", rand(1, 2, 2, 3), rand(4, 12), rand(4))
fc("fc_flatten_rows", rand(2, 3, 4), rand(2, 4), None)
fc("fc_keep_num_dims", rand(2, 3, 5), rand(4, 5), rand(4), keep_num_dims=1)
fc("fc_relu", rand(2, 6), rand(5, 6), rand(5), activation="RELU")


def gemm(name, a, b, c, **attrs):
    y = ort_run("Gemm", [a, b, c], attrs)[0]
    cases.append(case(name, "Gemm", attrs, [a, b, c], [y], 1e-5))


gemm("gemm_plain", rand(3, 4), rand(4, 5), None)
gemm("gemm_transB_bias_row", rand(2, 6), rand(5, 6), rand(5), transB=1)
gemm("gemm_transA_alpha_beta", rand(4, 3), rand(4, 2), rand(3, 2), transA=1, alpha=0.5, beta=2.0)
gemm("gemm_both_trans_column_c", rand(4, 3), rand(5, 4), rand(3, 1), transA=1, transB=1)
gemm("gemm_scalar_c", rand(2, 3), rand(3, 4), np.array(0.75, dtype=np.float32), beta=-1.5)
gemm("gemm_c_1x1_alpha", rand(2, 3), rand(3, 3), rand(1, 1), alpha=-2.0)
gemm("gemm_beta_zero", rand(2, 3), rand(3, 2), rand(2, 2), beta=0.0)


def matmul(name, a, b):
    y = ort_run("MatMul", [a, b])[0]
    cases.append(case(name, "MatMul", {}, [a, b], [y], 1e-5))


matmul("matmul_2d", rand(3, 4), rand(4, 5))
matmul("matmul_vector_matrix", rand(4), rand(4, 3))
matmul("matmul_matrix_vector", rand(3, 4), rand(4))
matmul("matmul_vector_vector", rand(5), rand(5))
matmul("matmul_batched_shared_b", rand(2, 3, 4), rand(4, 2))
matmul("matmul_broadcast_batches", rand(2, 1, 3, 4), rand(3, 4, 2))
matmul("matmul_shared_a", rand(3, 4), rand(2, 4, 3))
matmul("matmul_batched_vector", rand(4), rand(2, 4, 3))

write("linear", "make_linear_cases.py", cases)
