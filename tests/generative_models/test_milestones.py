"""The published GPT sizes and their growth factors."""

from genai.generative_models.milestones import PUBLISHED_PARAMETERS, growth


def test_growth_is_the_ratio_of_consecutive_sizes():
    steps = growth(PUBLISHED_PARAMETERS)
    assert [(a, b) for a, b, _ in steps] == [("GPT", "GPT-2"), ("GPT-2", "GPT-3")]
    assert round(steps[0][2]) == 13 and round(steps[1][2]) == 117
    assert growth({"only": (2020, 1.0)}) == []
