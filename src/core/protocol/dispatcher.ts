// The request/answer envelope (PROTOCOL §1.4, §2.0): one JSON object of modules, each an object of
// methods; every module and method is answered in request order, each method result carries
// `err_code`, and one failing method does not affect the others. The answer is handed back as a tree
// of values, never as text: the server streams it into the socket (wire/json-out.ts).
//
// A name the plug does not know never becomes a property name. In XS every property name is a key,
// kept in a table that a Moddable device never collects (its builds leave mxKeysGarbageCollection
// off): JSON.parse makes a key of every member name it reads, and obj[name], `name in obj` and
// hasOwnProperty make one of any string that is not a key yet. A client sending new names (modules,
// methods, parameters) in every request would fill the plug's heap for good, a slot and the name's
// bytes a name, until it aborts. So a request is parsed keeping only the members whose names the
// plug reads (XS's JSON.parse(text, names), which makes no key; other engines, which collect names
// with their objects, take the array for no reviver and keep every member), the modules and methods
// asked for are read from the request's bytes as strings (wire/json-members.ts), a name is used as
// a property name only once it is found among the known ones, and the answer echoes the others
// from those strings (Members).

import { errorText, INVALID_ARGUMENT, MEMBER_NOT_SUPPORT, MODULE_NOT_SUPPORT, UNKNOWN_ERROR, type KasaError } from "./errors.js";
import { NO_PARAMS, type Params } from "./params.js";
import type { PlugContext } from "./context.js";
import { membersAt, namesKnown, type NameBytes } from "./wire/json-members.js";
import { Members } from "./wire/json-out.js";
import { utf8Decode } from "./wire/utf8.js";

/** Handed to every method: how to run something once the answer has left the plug. */
export interface RequestContext {
  /** Runs `effect` after the answer to this request was written (reboot, reset, Wi-Fi join). */
  afterReply(effect: () => void): void;
  /**
   * The request came over TCP from a client of the setup network while it was up (Onboarding
   * clientSign): never a datagram, whose source address anyone on the home network can forge.
   * Absent: not (a request from the home network).
   */
  readonly setupClient?: boolean;
  /** The client's address, for the log (a verbose plug's request lines, the presence lock's refusals). */
  readonly client?: string;
}

/** What a method returns: its result fields (err_code 0 is added when absent) or an error. */
export type MethodResult = { [key: string]: unknown };
/**
 * A Kasa method. It gets the plug it runs on as an argument rather than closing over it, so that
 * module tables are frozen constants, preloaded into flash on a device instead of built in RAM.
 */
export type Method = (plug: PlugContext, params: Params, request: RequestContext) => MethodResult | KasaError | Promise<MethodResult | KasaError>;

/**
 * A module: its methods by name. `"*"`, when present, answers every method the module lacks, with no
 * parameters (a method's parameters are read only when its name is known).
 */
export type Module = { readonly [method: string]: Method };

/** The plug's modules; a KasaError in place of a module is answered at module level. */
export type ModuleTable = { readonly [module: string]: Module | KasaError };

/**
 * An answer: the tree the server writes as JSON (wire/json-out.ts), the modules' answers as Members.
 * Its objects may be shared and frozen (a preloaded error answer): nothing marks or changes them on
 * the way out.
 */
export type Answer = Members | { readonly [key: string]: unknown };

/** The answer to text that is not a JSON object (what real plugs send back, PROTOCOL §1.4): `{}`. */
export const NOT_AN_OBJECT_ANSWER: Answer = Object.freeze({});

/**
 * The names a plug reads from requests, for its Dispatcher: its modules', their methods' and
 * `parameters`, the names of the parameters its methods read; once each, sorted, frozen. Made at a
 * module's top level, so that a device keeps it in flash with the module tables.
 */
export function requestNames(modules: { readonly [module: string]: Module }, parameters: readonly string[]): readonly string[] {
  const all: string[] = [];
  const moduleNames = Object.keys(modules);
  for (let m = 0; m < moduleNames.length; m++) {
    all.push(moduleNames[m]);
    const methods = Object.keys(modules[moduleNames[m]]);
    for (let i = 0; i < methods.length; i++) if (methods[i] !== "*") all.push(methods[i]);
  }
  for (let i = 0; i < parameters.length; i++) all.push(parameters[i]);
  // sorted as `<` orders strings, which known() relies on
  all.sort();
  const names: string[] = [];
  for (let i = 0; i < all.length; i++) if (i === 0 || all[i] !== all[i - 1]) names.push(all[i]);
  return Object.freeze(names);
}

/** XS's JSON.parse(text, names): members whose names are not among `names` are left out (and no key is made). */
type ParseKeeping = (text: string, names: readonly string[]) => unknown;

const hasOwn = (o: object, k: string): boolean => Object.prototype.hasOwnProperty.call(o, k);

function isObject(value: unknown): value is { [key: string]: unknown } {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** A method result still on its way (only methods that wait for the radio answer this way). */
interface Pending {
  results: Members;
  /** the method's place in `results` */
  at: number;
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
    /** Every name the plug reads from a request (requestNames): the only ones made property names. */
    private readonly names: readonly string[],
    /** The same names as bytes (nameBytes): a request that holds only these is parsed without the list. */
    private readonly nameBytes: NameBytes,
    private readonly plug: PlugContext,
    /** Log each module and method asked, with the client's address (never the parameters: they can hold secrets). */
    private readonly verbose = false,
  ) {}

  /** Answers one request (its UTF-8 JSON text) with one answer tree (a promise only when a method has to wait). Never throws. */
  handle(bytes: Uint8Array, context: RequestContext): Answer | Promise<Answer> {
    const request = this.parse(bytes);
    if (request === undefined) return NOT_AN_OBJECT_ANSWER;
    this.plug.updater?.served(); // a new firmware on trial: it serves (update/confirm.ts)
    // The modules asked for, in answer order, each with where its value starts until its answer replaces that.
    const answer = membersAt(bytes, 0, this.names, this.nameBytes);
    // A leading `context` (child ids on strips) is consumed and not echoed, as real plugs do.
    if (answer.names[0] === "context") {
      answer.names.shift();
      answer.values.shift();
    }
    let pending: Pending[] | null = null;
    for (let m = 0; m < answer.names.length; m++) {
      const name = answer.names[m];
      const module = this.known(name) && hasOwn(this.modules, name) ? this.modules[name] : undefined;
      // (the value of a module the plug has is read by its name, which is a key)
      const calls = module === undefined ? undefined : request[name];
      if (this.verbose) this.traceModule(context, name, module, calls);
      // Shared errors go into the answer as they are (frozen, preloaded on a device): the writer only reads them.
      if (module === undefined) answer.values[m] = MODULE_NOT_SUPPORT;
      else if (typeof (module as KasaError).err_code === "number") answer.values[m] = module;
      else if (!isObject(calls)) answer.values[m] = INVALID_ARGUMENT;
      else {
        const results = membersAt(bytes, answer.values[m] as number, this.names, this.nameBytes);
        for (let i = 0; i < results.names.length; i++) {
          const method = results.names[i];
          // Inline rather than a helper: one call level less on the XS stack under every method.
          const named = this.known(method) && hasOwn(module, method);
          const run = named ? (module as Module)[method] : hasOwn(module, "*") ? (module as Module)["*"] : undefined;
          const params = run === undefined ? undefined : paramsOf(bytes[results.values[i] as number], named ? calls[method] : undefined);
          if (this.verbose) this.traceMethod(context, name, method);
          let result: unknown;
          if (run === undefined) result = MEMBER_NOT_SUPPORT;
          else if (params === undefined) result = INVALID_ARGUMENT;
          else {
            try {
              result = run(this.plug, params, context);
              // a promise holds the method's place in the answer until it settles
              if (isThenable(result)) (pending ??= []).push({ results, at: i, label: `${name}.${method}`, promise: result });
              else result = finish(result);
            } catch (e) {
              result = this.failed(`${name}.${method}`, e);
            }
          }
          results.values[i] = result;
        }
        answer.values[m] = results;
      }
    }
    if (pending === null) return answer;
    return this.settle(answer, pending);
  }

  /**
   * A verbose plug's line for a module answered whole (unknown, refused, or not an object of
   * methods), with the client's address; a module whose methods run gets a line for each (traceMethod).
   */
  private traceModule(context: RequestContext, name: string, module: Module | KasaError | undefined, calls: unknown): void {
    if (module === undefined || typeof (module as KasaError).err_code === "number" || !isObject(calls)) this.traceMethod(context, name, undefined);
  }

  /** A verbose plug's line for a method asked: the client, module.method; names from the request cut to 40 characters, never a parameter. */
  private traceMethod(context: RequestContext, name: string, method: string | undefined): void {
    this.plug.log(`request from ${context.client ?? "?"}: ${name.slice(0, 40)}${method === undefined ? "" : "." + method.slice(0, 40)}`);
  }

  /** The request, an object keeping only the members of known names (see the top); undefined when it is not a JSON object. */
  private parse(bytes: Uint8Array): { [name: string]: unknown } | undefined {
    try {
      // (the list only where a name is not known: with it XS allocates a slot a name at each parse)
      const request = namesKnown(bytes, this.nameBytes) ? JSON.parse(utf8Decode(bytes)) : (JSON.parse as unknown as ParseKeeping)(utf8Decode(bytes), this.names);
      return isObject(request) ? request : undefined;
    } catch {
      return undefined;
    }
  }

  /** Whether the plug reads `name` from requests: then it is a key already, and may be a property name. */
  private known(name: string): boolean {
    const names = this.names;
    let low = 0;
    let high = names.length;
    while (low < high) {
      const mid = (low + high) >> 1;
      if (names[mid] === name) return true;
      if (names[mid] < name) low = mid + 1;
      else high = mid;
    }
    return false;
  }

  /** The answer once its methods' promises settled, one after another (fewer objects alive than Promise.all's). */
  private async settle(answer: Answer, pending: Pending[]): Promise<Answer> {
    for (let i = 0; i < pending.length; i++) {
      const p = pending[i];
      try {
        p.results.values[p.at] = finish(await p.promise);
      } catch (e) {
        p.results.values[p.at] = this.failed(p.label, e);
      }
    }
    return answer;
  }

  /** A method that threw (or whose promise failed): logged, answered -7. */
  private failed(label: string, e: unknown): KasaError {
    this.plug.log(`${label} failed: ${errorText(e)}`);
    return UNKNOWN_ERROR;
  }
}

/**
 * The parameters a method gets, from the first byte of the value sent for them and that value: an
 * object as it is, null as none; undefined, refused, for anything else. A method answered by `"*"`
 * gets none (`value` undefined): the value of a name the plug does not know is not read.
 */
function paramsOf(first: number, value: unknown): Params | undefined {
  if (first !== 0x7b && first !== 0x6e) return undefined; // "{" or "n"
  return value === undefined || value === null ? NO_PARAMS : (value as Params);
}

/** A method's result as answered: err_code 0 added when absent (a shared, frozen error has one). */
function finish(result: unknown): unknown {
  if (Object.isFrozen(result)) return result;
  if (!hasOwn(result as object, "err_code")) (result as MethodResult).err_code = 0;
  return result;
}
