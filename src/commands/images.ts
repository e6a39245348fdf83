import { bootstrapBaseImage } from "../images/bootstrap.js";
import { withContext, type GlobalOptions } from "./context.js";

export async function bootstrap(g: GlobalOptions): Promise<void> {
  await withContext(g, {}, async (ctx) => {
    await bootstrapBaseImage({ tag: ctx.config.build.base_image, log: ctx.say });
  });
}
