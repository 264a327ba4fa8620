"""Fitness adapters: how a candidate loss is scored (D_verify simulation and proxy task)."""

from gp_autoloss.fitness.base import ADAPTERS, CandidateFailed, FitnessAdapter, create_adapter, register_adapter

__all__ = ["ADAPTERS", "CandidateFailed", "FitnessAdapter", "create_adapter", "register_adapter"]
