"""Embedding losses and the distances they are built on: pairwise (p-norm) distance, cosine similarity, the
cosine embedding loss, the triplet margin losses and Keras's cosine similarity loss."""

from refloss.losses.embedding.distances import cosine_similarity
from refloss.losses.embedding.distances import cosine_similarity_vjp
from refloss.losses.embedding.distances import pairwise_distance
from refloss.losses.embedding.distances import pairwise_distance_vjp
from refloss.losses.embedding.cosine_embedding import cosine_embedding_loss
from refloss.losses.embedding.cosine_embedding import cosine_embedding_loss_vjp
from refloss.losses.embedding.cosine_similarity_loss import cosine_similarity_loss
from refloss.losses.embedding.cosine_similarity_loss import cosine_similarity_loss_vjp
from refloss.losses.embedding.triplet import triplet_margin_loss
from refloss.losses.embedding.triplet import triplet_margin_loss_vjp
from refloss.losses.embedding.triplet import triplet_margin_with_distance_loss
from refloss.losses.embedding.triplet import triplet_margin_with_distance_loss_vjp

__all__ = [
    "cosine_embedding_loss",
    "cosine_embedding_loss_vjp",
    "cosine_similarity",
    "cosine_similarity_loss",
    "cosine_similarity_loss_vjp",
    "cosine_similarity_vjp",
    "pairwise_distance",
    "pairwise_distance_vjp",
    "triplet_margin_loss",
    "triplet_margin_loss_vjp",
    "triplet_margin_with_distance_loss",
    "triplet_margin_with_distance_loss_vjp",
]
