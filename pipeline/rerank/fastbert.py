"""A BERT forward pass that computes only what a cross-encoder's score needs.

A sequence-classification head reads the ``[CLS]`` vector of the last layer, and nothing else.
So the last layer needs keys and values for every token but a query, an attention output and
a feed-forward pass for ``[CLS]`` alone: of that layer's ``24·L·h²`` multiply-adds only the
``4·L·h²`` of the key/value projections remain. On a 4-layer student that is a fifth of all the
work, with the same scores (the arithmetic for ``[CLS]`` is unchanged).

The weights are the Hugging Face modules' own (so half precision applies unchanged); models
that are not plain post-LN BERT with absolute positions use the regular forward.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F  # noqa: N812


def supports(model: torch.nn.Module) -> bool:
    """True for a BertForSequenceClassification with absolute positions, not a decoder."""
    cfg = getattr(model, "config", None)
    return (type(model).__name__ == "BertForSequenceClassification" and cfg is not None
            and getattr(cfg, "position_embedding_type", "absolute") == "absolute"
            and not getattr(cfg, "is_decoder", False) and getattr(model.bert, "pooler", None) is not None)


def _attention(layer, queries: torch.Tensor, hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    attn = layer.attention.self
    heads, size = attn.num_attention_heads, attn.attention_head_size
    b, q_len, _ = queries.shape
    q = attn.query(queries).view(b, q_len, heads, size).transpose(1, 2)
    k = attn.key(hidden).view(b, -1, heads, size).transpose(1, 2)
    v = attn.value(hidden).view(b, -1, heads, size).transpose(1, 2)
    ctx = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
    return ctx.transpose(1, 2).reshape(b, q_len, heads * size)


def _layer(layer, queries: torch.Tensor, hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    ctx = _attention(layer, queries, hidden, mask)
    out = layer.attention.output
    a = out.LayerNorm(out.dense(ctx) + queries)
    i = layer.intermediate.intermediate_act_fn(layer.intermediate.dense(a))
    return layer.output.LayerNorm(layer.output.dense(i) + a)


def logits(model: torch.nn.Module, input_ids: torch.Tensor, token_type_ids: torch.Tensor,
           attention_mask: torch.Tensor) -> torch.Tensor:
    """The classifier's logits, ``(batch, num_labels)``, for a model where :func:`supports` holds."""
    bert = model.bert
    hidden = bert.embeddings(input_ids=input_ids, token_type_ids=token_type_ids)
    mask = attention_mask.bool()[:, None, None, :]
    layers = bert.encoder.layer
    for layer in layers[:-1]:
        hidden = _layer(layer, hidden, hidden, mask)
    cls = _layer(layers[-1], hidden[:, :1], hidden, mask)[:, 0]
    pooled = bert.pooler.activation(bert.pooler.dense(cls))
    return model.classifier(pooled)
