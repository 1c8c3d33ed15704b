"""`scrumy demo`: the whole product on one machine, against the sandbox emulators, with no
account anywhere.

Not part of the product: nothing in `scrumy`, `bot`, `sidecar`, `routing`, `providers`,
`storage` or `primitives` imports it (import-linter); it reaches the `scrumy` CLI as a plugin of
the `scrumy.commands` entry-point group.

    world.py     the people, the emulated Slack, ClickUp and Notion, our apps registered there
    stack.py     the emulators and the real app (as `scrumy serve` builds it) on 127.0.0.1
    browser.py   what a person's browser does: installing, signing in, consenting
    slack.py     what a person does in Slack: commands, buttons, menus — really signed
    story.py     the scripted story, step by step
    steps.py     how a step ends: what a person would see, or a DemoFailure saying what not
    narrate.py   the short timed log the story prints
    report.py    the final table and the checks of the end state
    your_turn.py what `--serve` leaves for the person at the browser
    pages.py     the pages `--serve` lists: the emulators' browser view, wired to the app
    cli.py       the `scrumy demo` command
"""
