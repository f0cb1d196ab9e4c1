"""The whole distillation run: generate, filter, train, evaluate and report in one run directory.

>>> from agentdistill.config import load_config
>>> from agentdistill.pipeline import PipelineConfig, run_pipeline
>>> results = run_pipeline(load_config(PipelineConfig, "configs/demo.yaml"))
"""

from agentdistill.pipeline.config import PipelineConfig
from agentdistill.pipeline.runner import Pipeline, run_pipeline
from agentdistill.pipeline.stages import STAGES, Stage, StageResult

__all__ = ["STAGES", "Pipeline", "PipelineConfig", "Stage", "StageResult", "run_pipeline"]
