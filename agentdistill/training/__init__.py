"""Training: tokenization with step-level loss masks and TRL SFT (LoRA or full) of a student.

The same trainer serves agent trajectories and the CoT / CoT+RAG baselines: all are trajectory records
whose ``train`` flags say which assistant messages the student learns. See :mod:`.masking` for how flags
become labels for any chat template, and :mod:`.sft` for the trainer.
"""

from agentdistill.training.config import TrainConfig
from agentdistill.training.dataset import DataStats, TrainingDataError, build_dataset
from agentdistill.training.masking import MaskedExample, MaskingError, mask_conversation
from agentdistill.training.sft import TrainingError, TrainResult, merge_adapter, train

__all__ = [
    "DataStats",
    "MaskedExample",
    "MaskingError",
    "TrainConfig",
    "TrainResult",
    "TrainingDataError",
    "TrainingError",
    "build_dataset",
    "mask_conversation",
    "merge_adapter",
    "train",
]
