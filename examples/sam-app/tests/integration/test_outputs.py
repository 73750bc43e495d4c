"""The stack's Outputs say what they are."""


def test_every_output_has_a_description(stack_outputs):
    for key, output in stack_outputs.items():
        print(f"{key}: {output['Description']}")
        assert output["Description"], key
