"""Each loss against a value computed by hand, and the layer mapping / projection shapes."""

import math

import pytest
import torch

from pipeline.training import losses
from pipeline.training.initialise import student, uniform_mapping

S = torch.tensor([[2.0, 0.0, -1.0]])
T = torch.tensor([[1.0, 1.0, 0.0]])


def test_softmax_ce_by_hand():
    expected = -math.log(math.exp(2) / (math.exp(2) + 1 + math.exp(-1)))
    assert losses.softmax_ce(S).item() == pytest.approx(expected, rel=1e-6)


def test_bce_by_hand():
    sig = lambda x: 1 / (1 + math.exp(-x))  # noqa: E731
    expected = -(math.log(sig(2.0)) + math.log(1 - sig(0.0)) + math.log(1 - sig(-1.0))) / 3
    assert losses.bce(S).item() == pytest.approx(expected, rel=1e-6)


def test_kl_with_temperature_by_hand():
    t_ = 2.0

    def softmax(xs):
        z = sum(math.exp(x / t_) for x in xs)
        return [math.exp(x / t_) / z for x in xs]

    p, q = softmax([1.0, 1.0, 0.0]), softmax([2.0, 0.0, -1.0])
    expected = t_ ** 2 * sum(pi * math.log(pi / qi) for pi, qi in zip(p, q, strict=True))
    assert losses.kl(S, T, temperature=t_).item() == pytest.approx(expected, rel=1e-5)
    assert losses.kl(T, T).item() == pytest.approx(0.0, abs=1e-7)


def test_mse_and_margin_mse_by_hand():
    assert losses.mse(S, T).item() == pytest.approx((1 + 1 + 1) / 3)
    # student margins 2, 3; teacher margins 0, 1 -> ((2-0)^2 + (3-1)^2) / 2
    assert losses.margin_mse(S, T).item() == pytest.approx(4.0)
    assert losses.margin_mse(S + 5, S).item() == pytest.approx(0.0)


def test_hidden_mse_masks_padding_and_projects():
    mask = torch.tensor([[1, 1, 0]])
    student_h = [torch.zeros(1, 3, 2), torch.ones(1, 3, 2)]
    teacher_h = [torch.zeros(1, 3, 2), torch.zeros(1, 3, 2), torch.full((1, 3, 2), 3.0)]
    teacher_h[2][0, 2] = 100.0  # padding: must not count
    # layer 0 -> 0: 0; layer 1 -> 2: (1-3)^2 = 4
    assert losses.hidden_mse(student_h, teacher_h, [0, 2], mask).item() == pytest.approx(4.0)
    proj = torch.nn.Linear(2, 4, bias=False)
    torch.nn.init.constant_(proj.weight, 1.0)  # maps ones to twos
    teacher_4 = [torch.zeros(1, 3, 4), torch.zeros(1, 3, 4), torch.full((1, 3, 4), 3.0)]
    assert losses.hidden_mse(student_h, teacher_4, [0, 2], mask, proj).item() == pytest.approx(1.0)


def test_attention_mse_by_hand_and_head_check():
    mask = torch.tensor([[1, 1]])
    s = [torch.tensor([[[[1.0, 0.0], [0.5, 0.5]]]])]
    t = [torch.zeros(1, 1, 2, 2), torch.tensor([[[[0.0, 1.0], [0.5, 0.5]]]])]
    # student layer 1 <-> teacher layer 2: squared errors 1 + 1 + 0 + 0 over 4 entries
    assert losses.attention_mse(s, t, [0, 2], mask).item() == pytest.approx(0.5)
    with pytest.raises(ValueError, match="equal head counts"):
        losses.attention_mse([torch.zeros(1, 2, 2, 2)], t, [0, 2], mask)


def test_uniform_mapping():
    assert uniform_mapping(4, 12) == [0, 3, 6, 9, 12]
    assert uniform_mapping(6, 12) == [0, 2, 4, 6, 8, 10, 12]
    assert uniform_mapping(4, 6) == [0, 2, 3, 5, 6]
    assert uniform_mapping(6, 6) == list(range(7))


def test_student_takes_the_mapped_teacher_layers_or_a_new_width(tiny_bert):
    from transformers import AutoModelForSequenceClassification

    from pipeline.training.initialise import stacked

    teacher = stacked(tiny_bert, 4)  # 2 layers -> 4 by stacking
    base = AutoModelForSequenceClassification.from_pretrained(tiny_bert)
    order = [0, 0, 1, 1]
    for layer, i in zip(teacher.bert.encoder.layer, order, strict=True):
        assert torch.equal(layer.output.dense.weight, base.bert.encoder.layer[i].output.dense.weight)
    small, mapping = student(teacher, 2)
    assert mapping == [0, 2, 4] and small.config.num_hidden_layers == 2
    assert torch.equal(small.bert.encoder.layer[1].attention.self.query.weight,
                       teacher.bert.encoder.layer[3].attention.self.query.weight)
    narrow, _ = student(teacher, 2, hidden=16, ffn=24)
    assert narrow.bert.encoder.layer[0].intermediate.dense.weight.shape == (24, 16)
    assert narrow.classifier.weight.shape == (1, 16)
