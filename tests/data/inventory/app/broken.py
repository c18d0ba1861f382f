"""A file that does not parse: listed under errors, the scan goes on."""

import toolchain_sdk as tc


@tc.governed_call("broken.surface", owner="nobody"
def oops(:
    pass
