"""A workflow that proves the worker runs: /readyz starts it and waits for its answer."""

from datetime import timedelta

from temporalio import activity, workflow


@activity.defn(name="probe_activity")
async def probe_activity(nonce: str) -> str:
    return f"ok:{nonce}"


@workflow.defn(name="ProbeWorkflow")
class ProbeWorkflow:
    @workflow.run
    async def run(self, nonce: str) -> str:
        return await workflow.execute_activity(probe_activity, nonce, start_to_close_timeout=timedelta(seconds=10))
