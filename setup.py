"""gp-autoloss: loss-function discovery for object detection by strongly-typed genetic programming."""

from pathlib import Path

from setuptools import find_packages, setup

HERE = Path(__file__).parent

setup(
    name="gp-autoloss",
    version="0.1.0",
    description=(
        "Discover loss functions for object detection by strongly-typed genetic programming "
        "(CSE-Autoloss, ICLR 2021), with real MMDetection 3.x fitness"
    ),
    long_description=(HERE / "README.md").read_text(encoding="utf-8") if (HERE / "README.md").exists() else "",
    long_description_content_type="text/markdown",
    license="Apache-2.0",
    python_requires=">=3.10",
    packages=find_packages(include=["primitives*", "gp_autoloss*", "detectors_adapter*", "benchmarks*"]),
    package_data={"detectors_adapter": ["configs/*.py", "configs/**/*.py"]},
    install_requires=[
        # torch is pinned by the Makefile (torch==2.13.0 CPU wheel) before this install; any 2.x works here.
        "torch>=2.1",
        "deap>=1.4",
        "networkx>=3.0",
        "numpy>=1.24",
        "matplotlib>=3.7",
        "tqdm>=4.60",
    ],
    extras_require={
        "mmdet": ["mmengine==0.10.7", "mmcv>=2.0.0,<2.2.0", "mmdet==3.3.0", "pycocotools>=2.0"],
        "ray": ["ray>=2.9"],
        "dev": ["pytest>=7", "ruff>=0.4"],
    },
    entry_points={
        "console_scripts": ["gp-autoloss=gp_autoloss.cli.main:main"],
        # plugins every gp-autoloss command loads; the detection extras are a plugin like any other
        "gp_autoloss.plugins": ["mmdet = detectors_adapter.plugin"],
    },
    classifiers=[
        "Programming Language :: Python :: 3",
        "Topic :: Scientific/Engineering :: Artificial Intelligence",
    ],
)
