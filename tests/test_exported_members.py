import shipyard


def test_all_exported_members_exist_and_are_documented() -> None:
    for name in shipyard.__all__:
        member = getattr(shipyard, name)
        if name != "__version__":
            assert member.__doc__, f"shipyard.{name} has no docstring"
    public = {name for name in dir(shipyard) if not name.startswith("_")}
    submodules = {"artifacts", "cli", "config", "errors", "pipeline", "project", "store"}
    assert public - submodules - {"annotations"} == set(shipyard.__all__) - {"__version__"}
