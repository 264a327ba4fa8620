"""gpa-segmentation: an example gp-autoloss plugin package (binary segmentation on synthetic blobs)."""

from setuptools import find_packages, setup

setup(
    name="gpa-segmentation",
    version="0.1.0",
    description="Example gp-autoloss plugin: a binary segmentation space, a primitive, probes and a fitness adapter",
    python_requires=">=3.10",
    packages=find_packages(include=["gpa_segmentation*"]),
    install_requires=["gp-autoloss", "torch>=2.1", "numpy>=1.24"],
    # No entry point: gp-autoloss's own `make` installs this example into every user's environment, so it must
    # stay inactive until asked for (--plugin gpa_segmentation, or GP_AUTOLOSS_PLUGINS=gpa_segmentation); else
    # its names (square, seg_blobs, ...) would be taken in every command. A plugin package of your own declares
    #     entry_points={"gp_autoloss.plugins": ["segmentation = gpa_segmentation"]},
    # and every gp-autoloss command then loads it once the package is installed (see docs/extending.md).
)
