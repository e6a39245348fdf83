import { faults } from "./global-setup.js";

export const setup = faults.setup;
export const teardown = faults.teardown;
