"""Training: tokenization with step-level loss masks, and trainers on one base (TRL SFT and GRPO).

The same SFT trainer serves agent trajectories and the CoT / CoT+RAG baselines: all are trajectory records
whose ``train`` flags say which assistant messages the student learns. See :mod:`.masking` for how flags
become labels for any chat template, :mod:`.trainer_config` and :mod:`.base` for what every trainer
shares, :mod:`.sft` and :mod:`.grpo` for the trainers.
"""

from agentdistill.training.base import TrainingError, TrainingResult, merge_adapter
from agentdistill.training.config import TrainConfig
from agentdistill.training.dataset import DataStats, TrainingDataError, build_dataset
from agentdistill.training.masking import MaskedExample, MaskingError, mask_conversation
from agentdistill.training.sft import TrainResult, train
from agentdistill.training.trainer_config import TrainerConfig

__all__ = [
    "DataStats",
    "MaskedExample",
    "MaskingError",
    "TrainConfig",
    "TrainResult",
    "TrainerConfig",
    "TrainingDataError",
    "TrainingError",
    "TrainingResult",
    "build_dataset",
    "mask_conversation",
    "merge_adapter",
    "train",
]
