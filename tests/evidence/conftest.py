from tests.appliance.conftest import home, root, signer, trust_file  # noqa: F401  (fixtures)
from tests.orchestration.conftest import site  # noqa: F401
