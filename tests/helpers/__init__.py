"""Test scaffolding shared by the test modules: stacks, fakes, fault injection. No tests here."""
