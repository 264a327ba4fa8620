"""gpa-segmentation: an example gp-autoloss plugin package (binary segmentation on synthetic blobs)."""

from setuptools import find_packages, setup

setup(
    name="gpa-segmentation",
    version="0.1.0",
    description="Example gp-autoloss plugin: a binary segmentation space, a primitive, probes and a fitness adapter",
    python_requires=">=3.10",
    packages=find_packages(include=["gpa_segmentation*"]),
    install_requires=["gp-autoloss", "torch>=2.1", "numpy>=1.24"],
    # every gp-autoloss command imports this module (what it registers is then known to show, check, render,
    # search, report and export, and a run records that it needs it)
    entry_points={"gp_autoloss.plugins": ["segmentation = gpa_segmentation"]},
)
