// The request/answer envelope (PROTOCOL §1.4, §2.0): one JSON object of modules, each an object of
// methods; every module and method is answered in request order, each method result carries
// `err_code`, and one failing method does not affect the others.

import { INVALID_ARGUMENT, MEMBER_NOT_SUPPORT, MODULE_NOT_SUPPORT, UNKNOWN_ERROR, type KasaError } from "./errors.js";
import { asParams, type Params } from "./params.js";

/** Handed to every method: how to run something once the answer has left the plug. */
export interface RequestContext {
  /** Runs `effect` after the answer to this request was written (reboot, reset, Wi-Fi join). */
  afterReply(effect: () => void): void;
}

/** What a method returns: its result fields (err_code 0 is added when absent) or an error. */
export type MethodResult = { [key: string]: unknown };
export type Method = (params: Params, context: RequestContext) => MethodResult | KasaError | Promise<MethodResult | KasaError>;

/** A module: its methods by name. `"*"`, when present, answers every method the module lacks. */
export type Module = { readonly [method: string]: Method };

/** The plug's modules; a KasaError in place of a module is answered at module level. */
export type ModuleTable = { readonly [module: string]: Module | KasaError };

/** The answer to text that is not a JSON object (what real plugs send back, PROTOCOL §1.4). */
export const NOT_AN_OBJECT_ANSWER = "{}";

const hasOwn = (o: object, k: string): boolean => Object.prototype.hasOwnProperty.call(o, k);

/**
 * A fresh copy of a shared error answer for one answer object. On a device the shared (frozen) errors
 * are preloaded into flash, and XS's JSON.stringify marks every object it visits: a read-only one
 * fails the whole answer with "read only value".
 */
function copy(error: KasaError): KasaError {
  return { err_code: error.err_code, err_msg: error.err_msg };
}

function isObject(value: unknown): value is { [key: string]: unknown } {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

export class Dispatcher {
  constructor(
    private readonly modules: ModuleTable,
    private readonly log: (line: string) => void,
  ) {}

  /** Answers one request text with one answer text. Never throws. */
  async handle(text: string, context: RequestContext): Promise<string> {
    let request: unknown;
    try {
      request = JSON.parse(text);
    } catch {
      return NOT_AN_OBJECT_ANSWER;
    }
    if (!isObject(request)) return NOT_AN_OBJECT_ANSWER;
    // Null-prototype objects: a module or method named "__proto__" is then just a name.
    const answer: { [module: string]: unknown } = Object.create(null);
    let first = true;
    for (const name in request) {
      const isFirst = first;
      first = false;
      // A leading `context` (child ids on strips) is consumed and not echoed, as real plugs do.
      if (name === "context" && isFirst) continue;
      const module = hasOwn(this.modules, name) ? this.modules[name] : undefined;
      if (module === undefined) {
        answer[name] = copy(MODULE_NOT_SUPPORT);
        continue;
      }
      if (typeof (module as KasaError).err_code === "number") {
        answer[name] = copy(module as KasaError);
        continue;
      }
      const calls = request[name];
      if (!isObject(calls)) {
        answer[name] = copy(INVALID_ARGUMENT);
        continue;
      }
      const results: { [method: string]: unknown } = Object.create(null);
      for (const method in calls) {
        results[method] = await this.call(module as Module, name, method, calls[method], context);
      }
      answer[name] = results;
    }
    return JSON.stringify(answer);
  }

  private async call(module: Module, moduleName: string, name: string, rawParams: unknown, context: RequestContext): Promise<unknown> {
    const method = hasOwn(module, name) ? module[name] : hasOwn(module, "*") ? module["*"] : undefined;
    if (method === undefined) return copy(MEMBER_NOT_SUPPORT);
    const params = asParams(rawParams);
    if (params === undefined) return copy(INVALID_ARGUMENT);
    try {
      const result = await method(params, context);
      if (Object.isFrozen(result)) return copy(result as KasaError); // a shared error answer
      if (!hasOwn(result, "err_code")) (result as MethodResult).err_code = 0;
      return result;
    } catch (e) {
      this.log(`${moduleName}.${name} failed: ${e instanceof Error ? e.message : String(e)}`);
      return copy(UNKNOWN_ERROR);
    }
  }
}
