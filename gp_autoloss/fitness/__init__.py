"""Fitness adapters: how a candidate loss is scored (D_verify simulation, proxy task, proxy budgets)."""

from gp_autoloss.fitness.base import ADAPTERS, CandidateFailed, FitnessAdapter, create_adapter, register_adapter
from gp_autoloss.fitness.budget import budget_fidelity, parse_fidelity, score

__all__ = ["ADAPTERS", "CandidateFailed", "FitnessAdapter", "budget_fidelity", "create_adapter", "parse_fidelity",
           "register_adapter", "score"]
