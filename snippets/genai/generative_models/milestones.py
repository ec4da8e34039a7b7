"""Published sizes of the GPT models, and how fast they grew.

The numbers are the parameter counts the papers report:
GPT (Radford et al., 2018) 117M, as listed for the smallest model in the GPT-2 paper;
GPT-2 (Radford et al., 2019) 1.5B; GPT-3 (Brown et al., 2020) 175B.

    python -m genai.generative_models.milestones
"""

# --8<-- [start:sizes]
PUBLISHED_PARAMETERS = {  # model: (year, number of parameters)
    "GPT": (2018, 117e6),
    "GPT-2": (2019, 1.5e9),
    "GPT-3": (2020, 175e9),
}


def growth(sizes: dict[str, tuple[int, float]]) -> list[tuple[str, str, float]]:
    """(previous model, model, size ratio) for each step in the dict's order."""
    names = list(sizes)
    return [(a, b, sizes[b][1] / sizes[a][1]) for a, b in zip(names, names[1:])]
# --8<-- [end:sizes]


if __name__ == "__main__":
    from genai.cli import demo_arguments

    demo_arguments(__doc__)   # --help says what the demo does
    for name, (year, n_params) in PUBLISHED_PARAMETERS.items():
        print(f"{name:6s} {year}: {n_params / 1e9:7.3f} billion parameters")
    for previous, model, ratio in growth(PUBLISHED_PARAMETERS):
        print(f"{previous} -> {model}: x{ratio:.0f}")
