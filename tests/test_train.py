"""mmlab.train.fit: it learns, it is seeded, it reports each epoch, it refuses bad set-ups."""
import pytest
import torch

from mmlab.train import fit


def regression_data(n=64, d=3, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, d, generator=g)
    w = torch.tensor([[1.0], [-2.0], [0.5]])
    return x, x @ w  # (N, 3), (N, 1)


def mse(model, x, y):
    return ((model(x) - y) ** 2).mean()


def test_fit_learns_a_linear_map():
    x, y = regression_data()
    model = torch.nn.Linear(3, 1)
    history = fit(model, mse, [x, y], epochs=60, batch_size=16, lr=0.05, seed=0, progress=False)
    assert len(history) == 60
    assert history[-1] < 0.01 * history[0]
    torch.testing.assert_close(model.weight.detach(), torch.tensor([[1.0, -2.0, 0.5]]), atol=0.05, rtol=0)
    assert not model.training, "fit leaves the model in eval mode"


def test_fit_is_reproducible_and_seed_matters():
    x, y = regression_data()

    def run(seed):
        torch.manual_seed(123)  # the same initial weights every time
        model = torch.nn.Linear(3, 1)
        return fit(model, mse, [x, y], epochs=3, batch_size=8, lr=0.01, seed=seed, progress=False)

    assert run(0) == run(0)
    assert run(0) != run(1)


def test_drop_last_sees_only_full_batches():
    x, y = regression_data(n=10)
    sizes = []

    def loss_fn(model, xb, yb):
        sizes.append(len(xb))
        return mse(model, xb, yb)

    fit(torch.nn.Linear(3, 1), loss_fn, [x, y], epochs=2, batch_size=4, drop_last=True, progress=False)
    assert sizes == [4, 4, 4, 4]


class WithScalars(torch.nn.Module):
    """A weight matrix, a bias, and two learned scalars like CLIP's log temperature and SigLIP's bias."""

    def __init__(self):
        super().__init__()
        self.linear = torch.nn.Linear(3, 2)
        self.norm = torch.nn.LayerNorm(2)
        self.log_scale = torch.nn.Parameter(torch.tensor(2.6593))
        self.logit_bias = torch.nn.Parameter(torch.tensor(-10.0))


def test_weight_decay_moves_matrices_and_leaves_biases_gains_and_scalars_alone():
    model = WithScalars()
    before = {k: v.detach().clone() for k, v in model.named_parameters()}

    def zero_gradient_loss(m, x):
        # touches every parameter with a zero gradient, so only weight decay can move them
        return sum(0.0 * p.sum() for p in m.parameters()) + 0.0 * x.sum()

    fit(model, zero_gradient_loss, [torch.ones(8, 3)], epochs=5, batch_size=4, lr=0.1, weight_decay=0.5,
        progress=False)
    after = dict(model.named_parameters())
    assert after["linear.weight"].abs().sum() < 0.9 * before["linear.weight"].abs().sum()  # decayed
    for name in ("linear.bias", "norm.weight", "norm.bias", "log_scale", "logit_bias"):  # ndim < 2
        torch.testing.assert_close(after[name].detach(), before[name], rtol=0, atol=0, msg=name)


def test_a_model_with_nothing_to_train_is_refused():
    model = torch.nn.Linear(3, 1).requires_grad_(False)
    x, y = regression_data(n=4)
    with pytest.raises(ValueError, match="model: expected at least one parameter with requires_grad=True"):
        fit(model, mse, [x, y], progress=False)


@pytest.mark.parametrize("kwargs, tensors, exc, words", [
    ({}, "not-a-list", TypeError, "tensors"),
    ({}, [torch.ones(4, 3), torch.ones(5, 1)], ValueError, "tensors[1]: expected 4 rows"),
    ({}, [torch.tensor(1.0)], TypeError, "tensors[0]: expected a tensor with rows"),
    ({}, [torch.full((4, 3), float("nan")), torch.ones(4, 1)], ValueError, "tensors[0]: expected finite"),
    ({"epochs": 0}, None, ValueError, "epochs"),
    ({"lr": -1.0}, None, ValueError, "lr"),
    ({"batch_size": 99, "drop_last": True}, None, ValueError, "batch_size"),
])
def test_fit_bad_inputs(kwargs, tensors, exc, words):
    x, y = regression_data(n=4)
    with pytest.raises(exc) as info:
        fit(torch.nn.Linear(3, 1), mse, tensors if tensors is not None else [x, y], progress=False, **kwargs)
    assert words in str(info.value)


@pytest.mark.parametrize("loss_fn, exc, words", [
    (lambda m, x, y: 1.0, TypeError, "loss_fn: expected it to return a scalar torch.Tensor"),
    (lambda m, x, y: (m(x) - y) ** 2, ValueError, "loss_fn: expected it to return a scalar tensor"),
])
def test_fit_rejects_a_loss_that_is_not_a_scalar_tensor(loss_fn, exc, words):
    x, y = regression_data(n=4)
    with pytest.raises(exc, match=words):
        fit(torch.nn.Linear(3, 1), loss_fn, [x, y], progress=False)


def test_param_lr_gives_one_parameter_its_own_rate_and_keeps_the_decay_rule():
    """A parameter named in param_lr moves at its own rate; the others do not notice."""
    def run(param_lr):
        torch.manual_seed(0)
        model = WithScalars()
        x = torch.randn(16, 3, generator=torch.Generator().manual_seed(1))
        fit(model, lambda m, a: (m.log_scale - 10.0) ** 2 + m.linear(a).pow(2).mean(), [x], epochs=3, batch_size=4,
            lr=1e-3, weight_decay=0.1, seed=0, progress=False, param_lr=param_lr)
        return model
    slow, fast = run(None), run({"log_scale": 0.1})
    # Adam moves a parameter about lr per step: 12 steps
    assert fast.log_scale.item() - 2.6593 == pytest.approx(12 * 0.1, rel=0.05)
    assert slow.log_scale.item() - 2.6593 == pytest.approx(12 * 1e-3, rel=0.05)
    torch.testing.assert_close(fast.linear.weight, slow.linear.weight)


def test_after_step_runs_after_every_step():
    seen = []
    x, y = regression_data(n=12)
    model = torch.nn.Linear(3, 1)
    fit(model, mse, [x, y], epochs=2, batch_size=4, progress=False,
        after_step=lambda m: seen.append(m.weight.detach().clone()))
    assert len(seen) == 6  # 3 steps per epoch
    torch.testing.assert_close(seen[-1], model.weight.detach())


@pytest.mark.parametrize("kwargs, exc, words", [
    ({"param_lr": {"nope": 0.1}}, ValueError, "param_lr: expected names of parameters"),
    ({"param_lr": {"weight": -1.0}}, ValueError, "param_lr['weight']"),
    ({"param_lr": [("weight", 0.1)]}, TypeError, "param_lr: expected a dict"),
    ({"after_step": 3}, TypeError, "after_step: expected a callable"),
])
def test_fit_bad_param_lr_and_after_step(kwargs, exc, words):
    x, y = regression_data(n=4)
    with pytest.raises(exc) as info:
        fit(torch.nn.Linear(3, 1), mse, [x, y], progress=False, **kwargs)
    assert words in str(info.value)


@pytest.mark.parametrize("loss", ["clip", "siglip"])
def test_notebook_03_hand_written_runs_equal_lit_train_heads(loss):
    """Notebook 03 trains heads with its own mm.train.fit loops (cell `train_with` of section 4 with all
    negatives kept: the CLIP loss, no clamp; `train_siglip` of the SigLIP bias subsection at bias -10) and
    reads them as lit.train_heads's runs: the same heads, weight for weight."""
    import mmlab as mm
    from mmlab import lit

    g = torch.Generator().manual_seed(3)
    a, b = torch.randn(70, 12, generator=g), torch.randn(70, 9, generator=g)
    a, b = torch.nn.functional.normalize(a, dim=1), torch.nn.functional.normalize(b, dim=1)
    init_scale = 10.0 if loss == "siglip" else lit.ProjectionHeads(12, 9, dim=8).logit_scale.item()
    ref, _ = lit.train_heads(a.numpy(), b.numpy(), dim=8, epochs=3, batch_size=16, loss=loss,
                             init_scale=init_scale, seed=5, progress=False)

    def objective(h, x, y):
        za, zb, scale = h(x, y)
        return (mm.losses.siglip_loss(za, zb, scale, h.logit_bias) if loss == "siglip"
                else mm.losses.clip_loss(za, zb, scale))

    torch.manual_seed(5)
    heads = lit.ProjectionHeads(12, 9, dim=8, init_scale=init_scale,
                                **({"init_bias": -10.0} if loss == "siglip" else {}))
    with mm.single_threaded():
        fit(heads, objective, [a, b], epochs=3, batch_size=16, lr=2e-3, weight_decay=0.1, seed=5, drop_last=True,
            progress=False, after_step=(lambda h: h.clamp_scale_()) if loss == "siglip" else None)
    for (name, p), q in zip(heads.state_dict().items(), ref.state_dict().values()):
        torch.testing.assert_close(p, q, msg=name)
