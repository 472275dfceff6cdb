"""Tests for mmlab.losses: known answers, agreement with open_clip and torch, bad inputs."""
import math

import pytest
import torch
import torch.nn.functional as F
from open_clip.loss import ClipLoss, SigLipLoss

from mmlab import losses


def _pairs(b=8, d=16, seed=0, noise=0.5):
    g = torch.Generator().manual_seed(seed)
    img = F.normalize(torch.randn(b, d, generator=g), dim=1)
    txt = F.normalize(img + noise * torch.randn(b, d, generator=g), dim=1)
    return img, txt


# ------------------------------------------------------------------ clip_loss
def test_clip_loss_known_answer_orthogonal_pairs():
    # Two orthogonal unit pairs, perfectly matched: logits = s * I.
    # Each row: CE = -log(e^s / (e^s + e^0)) = log(1 + e^-s).
    x = torch.eye(2)
    s = 2.0
    expected = math.log(1 + math.exp(-s))
    assert losses.clip_loss(x, x, s).item() == pytest.approx(expected, rel=1e-6)


def test_clip_loss_known_answer_uninformative_features():
    # All features identical: every logit equal, each CE = log(B).
    x = torch.ones(4, 3) / math.sqrt(3)
    assert losses.clip_loss(x, x, 10.0).item() == pytest.approx(math.log(4), rel=1e-6)


def test_clip_loss_known_answer_asymmetric_hand_computed():
    img = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    txt = torch.tensor([[1.0, 0.0], [1.0, 0.0]])  # both texts point at image 0
    # logits_per_image = [[1, 1], [0, 0]]: each image row CE = log 2.
    # logits_per_text = [[1, 0], [1, 0]]: row 0 CE = log(1 + e^-1), row 1 CE = log(1 + e^1).
    expected = (math.log(2) + (math.log(1 + math.e ** -1) + math.log(1 + math.e)) / 2) / 2
    assert losses.clip_loss(img, txt, 1.0).item() == pytest.approx(expected, rel=1e-6)


@pytest.mark.parametrize("b,d,scale", [(2, 4, 1.0), (8, 16, 14.3), (33, 64, 100.0)])
def test_clip_loss_matches_open_clip(b, d, scale):
    img, txt = _pairs(b, d, seed=b)
    ours = losses.clip_loss(img, txt, scale)
    theirs = ClipLoss()(img, txt, torch.tensor(scale))
    torch.testing.assert_close(ours, theirs)


def test_clip_loss_is_symmetric_in_its_two_inputs():
    img, txt = _pairs(10, 8, seed=3)
    torch.testing.assert_close(losses.clip_loss(img, txt, 5.0), losses.clip_loss(txt, img, 5.0))


def test_clip_loss_invariant_to_shuffling_pairs_together():
    img, txt = _pairs(10, 8, seed=4)
    perm = torch.randperm(10, generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(losses.clip_loss(img, txt, 5.0), losses.clip_loss(img[perm], txt[perm], 5.0))


def test_clip_loss_rises_when_pairs_are_mismatched():
    img, txt = _pairs(10, 8, seed=5, noise=0.1)
    matched = losses.clip_loss(img, txt, 10.0)
    shifted = losses.clip_loss(img, txt.roll(1, dims=0), 10.0)
    assert shifted > matched + 1.0


def test_clip_loss_batch_size_one_is_zero():
    # One pair, no negatives: softmax over a single logit is 1, the loss is 0.
    img, txt = _pairs(1, 5)
    assert losses.clip_loss(img, txt, 10.0).item() == pytest.approx(0.0, abs=1e-7)


def test_clip_loss_gradients_flow_to_features_and_scale():
    img, txt = _pairs(6, 4, seed=7)
    img = img.clone().requires_grad_(True)
    txt = txt.clone().requires_grad_(True)
    log_scale = torch.tensor(math.log(10.0), requires_grad=True)
    loss = losses.clip_loss(img, txt, log_scale.exp())
    loss.backward()
    for g in (img.grad, txt.grad, log_scale.grad):
        assert g is not None and torch.isfinite(g).all() and g.abs().sum() > 0


def test_clip_loss_accepts_numpy():
    img, txt = _pairs(4, 3)
    torch.testing.assert_close(losses.clip_loss(img.numpy(), txt.numpy(), 2.0), losses.clip_loss(img, txt, 2.0))


def test_clip_logits_shape_and_diagonal():
    img, txt = _pairs(5, 3)
    logits = losses.clip_logits(img, txt, 3.0)
    assert logits.shape == (5, 5)
    torch.testing.assert_close(logits[2, 4], 3.0 * img[2] @ txt[4])


@pytest.mark.parametrize("fn", [losses.clip_loss, losses.clip_logits])
def test_clip_bad_inputs(fn):
    img, txt = _pairs(4, 3)
    with pytest.raises(ValueError, match="same shape"):
        fn(img, txt[:3], 1.0)
    with pytest.raises(ValueError, match="same shape"):
        fn(img, torch.randn(4, 5), 1.0)
    with pytest.raises(ValueError, match="> 0"):
        fn(img, txt, 0.0)
    with pytest.raises(ValueError, match="> 0"):
        fn(img, txt, torch.tensor(-1.0))
    with pytest.raises(ValueError, match="scalar"):
        fn(img, txt, torch.ones(2))
    with pytest.raises(ValueError, match="2-D"):
        fn(img[0], txt[0], 1.0)
    with pytest.raises(ValueError, match="finite"):
        bad = img.clone()
        bad[1, 1] = float("nan")
        fn(bad, txt, 1.0)
    with pytest.raises(ValueError, match="non-empty"):
        fn(img[:0], txt[:0], 1.0)
    with pytest.raises(TypeError, match="image_features"):
        fn([[1.0, 0.0]], txt, 1.0)
    with pytest.raises(TypeError, match="floating"):
        fn(torch.ones(4, 3, dtype=torch.long), txt, 1.0)
    with pytest.raises(TypeError, match="logit_scale"):
        fn(img, txt, "10")


# ------------------------------------------------------------------ siglip_loss
def test_siglip_known_answer_single_pair():
    # One pair, cos = 1: loss = -log sigmoid(s + b).
    x = torch.tensor([[1.0, 0.0]])
    s, bias = 3.0, -1.0
    expected = -math.log(1 / (1 + math.exp(-(s + bias))))
    assert losses.siglip_loss(x, x, s, bias).item() == pytest.approx(expected, rel=1e-6)


def test_siglip_known_answer_orthogonal_pairs():
    # logits = s*I + b; two positives log(1+e^-(s+b)), two negatives log(1+e^b); sum / B.
    x = torch.eye(2)
    s, bias = 2.0, -0.5
    expected = (2 * math.log(1 + math.exp(-(s + bias))) + 2 * math.log(1 + math.exp(bias))) / 2
    assert losses.siglip_loss(x, x, s, bias).item() == pytest.approx(expected, rel=1e-6)


@pytest.mark.parametrize("b,d,scale,bias", [(2, 4, 10.0, -10.0), (9, 16, 3.0, 0.5), (32, 8, 50.0, -5.0)])
def test_siglip_matches_open_clip(b, d, scale, bias):
    img, txt = _pairs(b, d, seed=b + 1)
    ours = losses.siglip_loss(img, txt, scale, bias)
    theirs = SigLipLoss()(img, txt, torch.tensor(scale), torch.tensor(bias))
    torch.testing.assert_close(ours, theirs)


def test_siglip_is_symmetric():
    img, txt = _pairs(7, 5, seed=11)
    torch.testing.assert_close(losses.siglip_loss(img, txt, 4.0, -2.0), losses.siglip_loss(txt, img, 4.0, -2.0))


def test_siglip_gradients_flow_to_scale_and_bias():
    img, txt = _pairs(5, 4, seed=2)
    img.requires_grad_(True)
    t_prime = torch.tensor(math.log(10.0), requires_grad=True)
    bias = torch.tensor(-10.0, requires_grad=True)
    losses.siglip_loss(img, txt, t_prime.exp(), bias).backward()
    for g in (img.grad, t_prime.grad, bias.grad):
        assert g is not None and torch.isfinite(g).all() and g.abs().sum() > 0


def test_siglip_bad_inputs():
    img, txt = _pairs(4, 3)
    with pytest.raises(ValueError, match="same shape"):
        losses.siglip_loss(img, txt[:2], 1.0, 0.0)
    with pytest.raises(ValueError, match="logit_scale"):
        losses.siglip_loss(img, txt, -1.0, 0.0)
    with pytest.raises(ValueError, match="logit_bias"):
        losses.siglip_loss(img, txt, 1.0, float("nan"))
    with pytest.raises(TypeError, match="logit_bias"):
        losses.siglip_loss(img, txt, 1.0, None)


# ------------------------------------------------------------------ triplet_loss
def test_triplet_known_answers_cosine():
    a = torch.tensor([[1.0, 0.0], [1.0, 0.0]])
    p = torch.tensor([[1.0, 0.0], [0.0, 1.0]])  # d_pos = 0, 1
    n = torch.tensor([[0.0, 1.0], [1.0, 0.0]])  # d_neg = 1, 0
    per = losses.triplet_loss(a, p, n, margin=0.2, reduction="none")
    torch.testing.assert_close(per, torch.tensor([0.0, 1.2]))  # max(0, 0-1+.2), max(0, 1-0+.2)
    assert losses.triplet_loss(a, p, n, margin=0.2).item() == pytest.approx(0.6)
    assert losses.triplet_loss(a, p, n, margin=0.2, reduction="sum").item() == pytest.approx(1.2)


def test_triplet_known_answer_euclidean():
    a = torch.tensor([[0.0, 0.0]])
    p = torch.tensor([[3.0, 4.0]])  # distance 5
    n = torch.tensor([[1.0, 0.0]])  # distance 1
    assert losses.triplet_loss(a, p, n, margin=1.0, distance="euclidean").item() == pytest.approx(5.0, rel=1e-5)


@pytest.mark.parametrize("distance", ["cosine", "euclidean"])
@pytest.mark.parametrize("margin", [0.05, 0.2, 1.0])
def test_triplet_matches_torch(distance, margin):
    g = torch.Generator().manual_seed(0)
    a, p, n = (torch.randn(12, 6, generator=g) for _ in range(3))
    if distance == "cosine":
        def fn(x, y):
            return 1 - F.cosine_similarity(x, y)
    else:
        fn = torch.nn.PairwiseDistance()
    theirs = torch.nn.TripletMarginWithDistanceLoss(distance_function=fn, margin=margin)(a, p, n)
    torch.testing.assert_close(losses.triplet_loss(a, p, n, margin=margin, distance=distance), theirs)


def test_triplet_batch_size_one_and_gradients():
    a = torch.tensor([[1.0, 0.0]], requires_grad=True)
    p = torch.tensor([[0.0, 1.0]])
    n = torch.tensor([[1.0, 0.1]])
    loss = losses.triplet_loss(a, p, n, margin=0.2)
    assert loss.item() > 0
    loss.backward()
    assert a.grad is not None and a.grad.abs().sum() > 0


def test_triplet_bad_inputs():
    a = torch.randn(3, 4)
    with pytest.raises(ValueError, match="anchor and negative"):
        losses.triplet_loss(a, a, a[:2])
    with pytest.raises(ValueError, match="margin"):
        losses.triplet_loss(a, a, a, margin=-0.1)
    with pytest.raises(ValueError, match="distance"):
        losses.triplet_loss(a, a, a, distance="manhattan")
    with pytest.raises(ValueError, match="reduction"):
        losses.triplet_loss(a, a, a, reduction="max")


# ------------------------------------------------------------------ mining
def test_hardest_negatives_picks_closest_non_positive():
    anchor = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    cands = torch.tensor([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0], [-1.0, 0.0]])
    ids = losses.hardest_negatives(anchor, cands, [0, 2])
    assert ids.tolist() == [1, 1]  # anchor 1: [0.9, 0.1] is closer than [1, 0] and [-1, 0]
    # a mask blocks a false negative (say, a duplicate caption)
    mask = torch.zeros(2, 4, dtype=torch.bool)
    mask[0, 1] = True
    assert losses.hardest_negatives(anchor, cands, [0, 2], mask=mask).tolist() == [2, 1]


def test_hardest_negatives_never_returns_the_positive():
    g = torch.Generator().manual_seed(1)
    x = torch.randn(20, 5, generator=g)
    ids = losses.hardest_negatives(x, x, torch.arange(20))
    assert (ids != torch.arange(20)).all()


def test_hardest_negatives_bad_inputs():
    x = torch.randn(3, 2)
    with pytest.raises(ValueError, match="positive_ids"):
        losses.hardest_negatives(x, x, [0, 1])
    with pytest.raises(ValueError, match="positive_ids"):
        losses.hardest_negatives(x, x, [0, 1, 3])
    with pytest.raises(ValueError, match="positive_ids"):
        losses.hardest_negatives(x, x, torch.tensor([0.0, 1.0, 2.0]))
    with pytest.raises(ValueError, match="at least 2"):
        losses.hardest_negatives(x, x[:1], [0, 0, 0])
    with pytest.raises(ValueError, match="mask"):
        losses.hardest_negatives(x, x, [0, 1, 2], mask=torch.ones(3, 3, dtype=torch.bool))


def test_batch_hard_triplet_is_at_least_random_negative_loss():
    img, txt = _pairs(16, 8, seed=9, noise=1.0)
    hard = losses.batch_hard_triplet_loss(img, txt, margin=0.2, reduction="none")
    for shift in range(1, 16):
        rand = losses.triplet_loss(img, txt, txt.roll(shift, 0), margin=0.2, reduction="none")
        assert (hard >= rand - 1e-6).all()
    with pytest.raises(ValueError, match="at least 2"):
        losses.batch_hard_triplet_loss(img[:1], txt[:1])


def test_pairwise_distance_matches_definitions():
    g = torch.Generator().manual_seed(2)
    a, b = torch.randn(4, 3, generator=g), torch.randn(5, 3, generator=g)
    cos = losses.pairwise_distance(a, b, "cosine")
    torch.testing.assert_close(cos[1, 3], 1 - F.cosine_similarity(a[1:2], b[3:4])[0])
    torch.testing.assert_close(losses.pairwise_distance(a, b, "euclidean"), torch.cdist(a, b))
    with pytest.raises(ValueError, match="same dimension"):
        losses.pairwise_distance(a, torch.randn(2, 4))


def test_mixed_dtypes_and_mismatched_candidates_are_refused():
    img, txt = _pairs(4, 3)
    with pytest.raises(TypeError, match="image_features and text_features: expected the same dtype"):
        losses.clip_loss(img, txt.double(), 1.0)
    with pytest.raises(ValueError, match="anchor and candidates"):
        losses.hardest_negatives(img, torch.randn(5, 2), [0, 1, 2, 3])
    with pytest.raises(TypeError, match="positive_ids"):
        losses.hardest_negatives(img, txt, ["0", "1", "2", "3"])


# ------------------------------------------------------------------ masked_clip_loss
def test_masked_clip_loss_without_duplicates_is_clip_loss():
    img, txt = _pairs(6, 8, seed=4)
    torch.testing.assert_close(losses.masked_clip_loss(img, txt, list("abcdef"), 7.0), losses.clip_loss(img, txt, 7.0))


def test_masked_clip_loss_known_answer_duplicates_at_one_point():
    """Two pairs on one point: the hard loss pays log 2 on each of their rows and columns; masking removes it."""
    cat, dog = [1.0, 0.0], [0.0, 1.0]
    feats = torch.tensor([cat, dog, cat])
    assert losses.clip_loss(feats, feats, 100.0).item() == pytest.approx(2 * math.log(2) / 3, rel=1e-4)
    assert losses.masked_clip_loss(feats, feats, ["cat", "dog", "cat"], 100.0).item() == pytest.approx(0.0, abs=1e-6)
    # groups may be ids in a tensor
    assert losses.masked_clip_loss(feats, feats, torch.tensor([3, 5, 3]), 100.0).item() == pytest.approx(0.0, abs=1e-6)


def test_masked_clip_loss_gradients_flow_and_inputs_are_checked():
    img, txt = _pairs(5, 4, seed=1)
    img.requires_grad_(True)
    scale = torch.tensor(5.0, requires_grad=True)
    losses.masked_clip_loss(img, txt, [0, 1, 0, 2, 1], scale).backward()
    assert img.grad.abs().sum() > 0 and scale.grad is not None
    with pytest.raises(ValueError, match="groups: expected one label per pair"):
        losses.masked_clip_loss(img, txt, [0, 1], 1.0)
    with pytest.raises(TypeError, match="groups"):
        losses.masked_clip_loss(img, txt, "abcde", 1.0)
    with pytest.raises(TypeError, match="groups: expected hashable"):
        losses.masked_clip_loss(img, txt, [[0], [1], [2], [3], [4]], 1.0)


# ------------------------------------------------------------------ semi-hard mining
def test_semi_hard_negatives_known_answer():
    # one anchor at distance: positive 0.3; negatives 0.1 (harder than the positive), 0.5, 0.9
    anchor = torch.tensor([[1.0, 0.0]])
    angle = torch.tensor([math.acos(1 - d) for d in (0.3, 0.1, 0.5, 0.9)])
    cands = torch.stack([angle.cos(), angle.sin()], dim=1)
    assert losses.semi_hard_negatives(anchor, cands, [0]).tolist() == [2]  # closest one farther than 0.3
    assert losses.hardest_negatives(anchor, cands, [0]).tolist() == [1]
    # every negative closer than the positive: the farthest one
    assert losses.semi_hard_negatives(anchor, cands[[3, 1, 2]], [0]).tolist() == [2]


def test_semi_hard_never_returns_the_positive_and_loss_is_at_most_batch_hard():
    img, txt = _pairs(16, 8, seed=3, noise=1.0)
    ids = losses.semi_hard_negatives(img, txt, torch.arange(16))
    assert (ids != torch.arange(16)).all()
    semi = losses.batch_semi_hard_triplet_loss(img, txt, margin=0.2, reduction="none")
    hard = losses.batch_hard_triplet_loss(img, txt, margin=0.2, reduction="none")
    assert (semi <= hard + 1e-6).all()
    with pytest.raises(ValueError, match="at least 2"):
        losses.batch_semi_hard_triplet_loss(img[:1], txt[:1])
    with pytest.raises(ValueError, match="positive_ids"):
        losses.semi_hard_negatives(img, txt, [0, 1])


def test_semi_hard_columns_agrees_with_semi_hard_negatives_on_cosines():
    g = torch.Generator().manual_seed(0)
    img = F.normalize(torch.randn(12, 5, generator=g), dim=1)
    txt = F.normalize(img + torch.randn(12, 5, generator=g), dim=1)
    sim = img @ txt.T
    before = sim.clone()
    ids = losses.semi_hard_columns(sim)
    assert torch.equal(sim, before)
    assert ids.tolist() == losses.semi_hard_negatives(img, txt, torch.arange(12)).tolist()
    # a row where every negative beats the positive falls back to its least similar negative
    assert losses.semi_hard_columns(torch.tensor([[0.0, 0.5, 0.2], [0.1, 0.9, 0.0], [0.3, 0.2, 0.8]])).tolist() == [2, 0, 0]
    with pytest.raises(ValueError):
        losses.semi_hard_columns(torch.zeros(2, 3))
