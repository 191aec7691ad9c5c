"""Who may call the tool registry endpoints. Each checks the tool's own attributes (`tool_id`, `tool_name`,
`tags`) again in the service."""

from typing import Annotated

from fastapi import Depends

from amigo_api.core.auth import CurrentPrincipal, Principal, require

ToolCreator = Annotated[Principal, Depends(require("Tool:CreateTool"))]
ToolModifier = Annotated[Principal, Depends(require("Tool:ModifyTool"))]
ToolDeleter = Annotated[Principal, Depends(require("Tool:DeleteTool"))]
# The contract documents no permission for listing tools or fetching the scaffold: every member of the
# organization may (docs/tools.md).
Member = CurrentPrincipal
ToolInvoker = Annotated[Principal, Depends(require("Tool:InvokeTool"))]
# test-tool documents no permission: whoever may push code to the repository may run it (docs/tools.md).
RepoWriter = Annotated[Principal, Depends(require("Tool:AccessRepo"))]
