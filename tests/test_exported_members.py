import types

import shipyard


def test_all_exported_members_exist_and_are_documented() -> None:
    for name in shipyard.__all__:
        member = getattr(shipyard, name)
        if name != "__version__":
            assert member.__doc__, f"shipyard.{name} has no docstring"
    public = {
        name
        for name, value in vars(shipyard).items()
        if not name.startswith("_") and not isinstance(value, types.ModuleType)
    }
    assert public - {"annotations"} == set(shipyard.__all__) - {"__version__"}
