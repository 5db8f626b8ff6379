from tests.appliance.conftest import home, root, signer, trust_file  # noqa: F401  (fixtures)
from tests.appliance.promotions.conftest import site  # noqa: F401
