"""The integration packages' public surfaces are explicit and stable."""


def test_integration_packages_pin_their_all() -> None:
    from llama_index.postprocessor import crossrank as llama_crossrank

    import langchain_crossrank

    assert sorted(llama_crossrank.__all__) == ["CrossEncoderRerank"]
    assert sorted(langchain_crossrank.__all__) == ["CrossEncoderCompressor", "CrossEncoderModel"]
    for module in (llama_crossrank, langchain_crossrank):
        for name in module.__all__:
            assert hasattr(module, name), name
