import { restarts } from "./global-setup.js";

export const setup = restarts.setup;
export const teardown = restarts.teardown;
