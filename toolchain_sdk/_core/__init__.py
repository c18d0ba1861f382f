"""The per-call machinery every control builds on (private).

``binding`` maps arguments to names, ``wrap`` is the one dispatch over function kinds,
``pipeline`` holds the compiled ``Surface`` and the ``Gate`` protocol, ``call`` the per-call
record and the body's ``GovernedCall`` handle, ``relay`` the one generator-forwarding loop,
``safety`` the never-raise guard around the SDK's own steps.
"""
