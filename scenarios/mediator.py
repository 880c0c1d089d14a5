"""A mediator who makes Toner offers: a SimPy process next to the article's scenario.

    stancesim run scenarios/openai_2023_11.yaml --processes scenarios/mediator.py

From day 2, every 12 hours while more than half of the employees have signed
and Toner still backs the ouster, the mediator makes an offer (three at most per
replicate); each is accepted with probability 0.3 and adds 0.1 to the pressure
Toner feels. An illustration of the processes API, not a premise of the article.
"""


def mediator(env, world):
    """Offers to Toner, each accepted with probability 0.3."""
    yield env.timeout(48)
    while True:
        offers = world.state("offers", 0)  # per replicate, kept by the world
        hot = (world.fraction("employees", "signed") > 0.5) & world.is_in("toner", "oust")
        hot &= offers < 3  # three offers at most
        offers[hot] += 1
        accepted = hot & (world.random() < 0.3)
        world.change("toner", "offset", add=0.1, rule="reinstate", where=accepted)
        world.trace("mediator: Toner accepts an offer", where=accepted)
        yield env.timeout(12)


PROCESSES = [mediator]
