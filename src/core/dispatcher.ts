// The request/answer envelope (PROTOCOL §1.4, §2.0): one JSON object of modules, each an object of
// methods; every module and method is answered in request order, each method result carries
// `err_code`, and one failing method does not affect the others. The answer is handed back as a tree
// of values, never as text: the server streams it into the socket (wire/json-out.ts).

import { errorText, INVALID_ARGUMENT, MEMBER_NOT_SUPPORT, MODULE_NOT_SUPPORT, UNKNOWN_ERROR, type KasaError } from "./errors.js";
import { asParams, type Params } from "./params.js";
import type { PlugContext } from "./context.js";

/** Handed to every method: how to run something once the answer has left the plug. */
export interface RequestContext {
  /** Runs `effect` after the answer to this request was written (reboot, reset, Wi-Fi join). */
  afterReply(effect: () => void): void;
}

/** What a method returns: its result fields (err_code 0 is added when absent) or an error. */
export type MethodResult = { [key: string]: unknown };
/**
 * A Kasa method. It gets the plug it runs on as an argument rather than closing over it, so that
 * module tables are frozen constants, preloaded into flash on a device instead of built in RAM.
 */
export type Method = (plug: PlugContext, params: Params, request: RequestContext) => MethodResult | KasaError | Promise<MethodResult | KasaError>;

/** A module: its methods by name. `"*"`, when present, answers every method the module lacks. */
export type Module = { readonly [method: string]: Method };

/** The plug's modules; a KasaError in place of a module is answered at module level. */
export type ModuleTable = { readonly [module: string]: Module | KasaError };

/**
 * An answer: the tree the server writes as JSON (wire/json-out.ts). Its objects may be shared and
 * frozen (a preloaded error answer): nothing marks or changes them on the way out.
 */
export type Answer = { readonly [module: string]: unknown };

/** The answer to text that is not a JSON object (what real plugs send back, PROTOCOL §1.4): `{}`. */
export const NOT_AN_OBJECT_ANSWER: Answer = Object.freeze({});

const hasOwn = (o: object, k: string): boolean => Object.prototype.hasOwnProperty.call(o, k);

function isObject(value: unknown): value is { [key: string]: unknown } {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** A method result still on its way (only methods that wait for the radio answer this way). */
interface Pending {
  results: { [method: string]: unknown };
  method: string;
  /** module.method, for the log */
  label: string;
  promise: PromiseLike<unknown>;
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return typeof value === "object" && value !== null && typeof (value as PromiseLike<unknown>).then === "function";
}

/**
 * Requests are answered synchronously: no async function on the way, because every async layer
 * costs about 20 slots of the XS stack, which is 256 slots in all on an ESP8266. A method that has
 * to wait (a Wi-Fi scan) returns a promise; the answer then waits for it, keeping request order.
 */
export class Dispatcher {
  constructor(
    private readonly modules: ModuleTable,
    private readonly plug: PlugContext,
    private readonly log: (line: string) => void,
  ) {}

  /** Answers one request text with one answer tree (a promise only when a method has to wait). Never throws. */
  handle(text: string, context: RequestContext): Answer | Promise<Answer> {
    let request: unknown;
    try {
      request = JSON.parse(text);
    } catch {
      return NOT_AN_OBJECT_ANSWER;
    }
    if (!isObject(request)) return NOT_AN_OBJECT_ANSWER;
    // Null-prototype objects: a module or method named "__proto__" is then just a name.
    const answer: { [module: string]: unknown } = Object.create(null);
    let pending: Pending[] | null = null;
    // Index loops over Object.keys, not for-in: an XS for-in holds its iterator on the stack.
    const names = Object.keys(request);
    for (let m = 0; m < names.length; m++) {
      const name = names[m];
      // A leading `context` (child ids on strips) is consumed and not echoed, as real plugs do.
      if (name === "context" && m === 0) continue;
      const module = hasOwn(this.modules, name) ? this.modules[name] : undefined;
      const calls = request[name];
      // Shared errors go into the answer as they are (frozen, preloaded on a device): the writer only reads them.
      if (module === undefined) answer[name] = MODULE_NOT_SUPPORT;
      else if (typeof (module as KasaError).err_code === "number") answer[name] = module;
      else if (!isObject(calls)) answer[name] = INVALID_ARGUMENT;
      else {
        const results: { [method: string]: unknown } = Object.create(null);
        const methods = Object.keys(calls);
        for (let i = 0; i < methods.length; i++) {
          const method = methods[i];
          // Inline rather than a helper: one call level less on the XS stack under every method.
          const run = hasOwn(module, method) ? (module as Module)[method] : hasOwn(module, "*") ? (module as Module)["*"] : undefined;
          const params = run === undefined ? undefined : asParams(calls[method]);
          let result: unknown;
          if (run === undefined) result = MEMBER_NOT_SUPPORT;
          else if (params === undefined) result = INVALID_ARGUMENT;
          else {
            try {
              result = run(this.plug, params, context);
              // a promise holds the method's place in the answer until it settles
              if (isThenable(result)) (pending ??= []).push({ results, method, label: `${name}.${method}`, promise: result });
              else result = finish(result);
            } catch (e) {
              result = this.failed(`${name}.${method}`, e);
            }
          }
          results[method] = result;
        }
        answer[name] = results;
      }
    }
    if (pending === null) return answer;
    return this.settle(answer, pending);
  }

  /** The answer once its methods' promises settled, one after another (fewer objects alive than Promise.all's). */
  private async settle(answer: Answer, pending: Pending[]): Promise<Answer> {
    for (let i = 0; i < pending.length; i++) {
      const p = pending[i];
      try {
        p.results[p.method] = finish(await p.promise);
      } catch (e) {
        p.results[p.method] = this.failed(p.label, e);
      }
    }
    return answer;
  }

  /** A method that threw (or whose promise failed): logged, answered -7. */
  private failed(label: string, e: unknown): KasaError {
    this.log(`${label} failed: ${errorText(e)}`);
    return UNKNOWN_ERROR;
  }
}

/** A method's result as answered: err_code 0 added when absent (a shared, frozen error has one). */
function finish(result: unknown): unknown {
  if (Object.isFrozen(result)) return result;
  if (!hasOwn(result as object, "err_code")) (result as MethodResult).err_code = 0;
  return result;
}
