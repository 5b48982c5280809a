import type { ServiceImpl } from "@connectrpc/connect";
import type { DeployService } from "../../gen/ctrl/v1/deploy_pb.js";
import type { ApiDeps } from "../deps.js";
import { cancelDeployment } from "./cancelDeployment.js";
import { createDeployment } from "./createDeployment.js";
import { promote, rollback } from "./liveChanges.js";
import { createEnvironment, createProject, getProject, listEnvironments, listProjects } from "./projects.js";
import { getDeployment, listDeployments } from "./queryDeployments.js";
import { createWorkspace, getWorkspace, listWorkspaces } from "./workspaces.js";

/** DeployService: workspaces, projects, environments and the deployment lifecycle. */
export function deployService(deps: ApiDeps): ServiceImpl<typeof DeployService> {
  return {
    createWorkspace: createWorkspace(deps),
    getWorkspace: getWorkspace(deps),
    listWorkspaces: listWorkspaces(deps),
    createProject: createProject(deps),
    getProject: getProject(deps),
    listProjects: listProjects(deps),
    createEnvironment: createEnvironment(deps),
    listEnvironments: listEnvironments(deps),
    createDeployment: createDeployment(deps),
    getDeployment: getDeployment(deps),
    listDeployments: listDeployments(deps),
    cancelDeployment: cancelDeployment(deps),
    promote: promote(deps),
    rollback: rollback(deps),
  };
}
