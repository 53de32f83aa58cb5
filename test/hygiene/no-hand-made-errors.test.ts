/**
 * Ratchet: no AWS SDK error is made by hand in test/ or bench/.
 *
 * Why: an error typed by hand carries what its author believed the SDK throws, not what it throws. The RDS defect of issue 11
 * (the SDK's `DBInstanceNotFoundFault` carries `Code: 'DBInstanceNotFound'`, which the not-found pattern missed) passed every test
 * because the fakes threw `{ name }` alone. Tests get SDK errors from `parsedError(Client, command, answer)` (test/wire/parsed.ts)
 * with a documented body from test/wire/bodies.ts, or from a real client against the wire harness.
 *
 * The rule, over the TypeScript syntax tree of every .ts/.js/.mjs/.cjs file under test/ and bench/ (node_modules and
 * bench/results left out). A finding is any of:
 * 1. `service-exception-class`: `new C(...)` where C is an AWS SDK service exception class: imported (by name, or as `ns.C` from a
 *    namespace import) from an `@aws-sdk/*` or `@smithy/*` package and either declared in an installed `@aws-sdk/client-*`
 *    package's dist-types/models as a class extending its service's base exception, or named `ServiceException` /
 *    `*ServiceException`. Whatever the arguments: the class fixes `name` and `$fault`, but `$metadata` (status, request id) and the
 *    fields the protocol parser adds (`Code`, `Type`, `Error`, `$response`, `$retryable`) are then typed or missing by hand, which is
 *    exactly the gap that hid the RDS defect. A hand-written message is not what makes these wrong, so it is not what the rule keys on.
 * 2. `sdk-error-field`: an object literal with a property `$fault`, `$retryable` or `$response`, or with `$metadata` together with
 *    `name` or `message` (a success output from a mock carries `$metadata` alone and is fine); and, in a source object of
 *    `Object.assign(...)`, a property `$metadata`, `$fault`, `Code` or `Type` (what the SDK's parsers set on an error).
 * 3. `aws-error-name`: a `name` given by hand to an error, where the value is an AWS error name: a `name` property in a source object
 *    of `Object.assign(...)` or in an object literal that is thrown or rejected (`throw`, `Promise.reject`, `.rejects`,
 *    `.rejectsOnce`, `.mockRejectedValue(Once)`); an assignment `x.name = ...`; a `name` class property.
 *    An AWS error name is a string that ends in `Exception` or `Fault`; or is a dotted code in the EC2 form (`InvalidInstanceID.NotFound`);
 *    or is the name of an exception class of an installed `@aws-sdk/client-*` package; or is an error code that a documented body in
 *    test/wire/bodies.ts answers with; or is one of the common error codes of the AWS query and JSON APIs (COMMON_CODES below, from
 *    each service's "Common Errors" page). A value that is not a string literal is resolved within the file: a ternary to both
 *    branches; a parameter of a named function to the literal arguments of every call of that function in the file; an identifier to
 *    the string-literal initialisers of the file's variables of that name. A value that cannot be resolved that way is a finding
 *    (the rule cannot show it is not an AWS name).
 * Not findings: arguments of `expect(...)` matchers (`toMatchObject({ name: 'ValidationException' })` describes an error the SDK
 * parsed, it makes none); errors without an AWS name (`Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' })`, a Node
 * `ENOENT`, `new Error('boom')`, a test's own `{ name: 'Transient' }`): those are not SDK errors. Known blind spots, kept simple on
 * purpose: `require()` imports, `Object.defineProperty(e, 'name', ...)`, names built across files.
 *
 * Ratchet: KNOWN lists the findings that remain in files outside this change (file and the finding's source line, trimmed), so the
 * test passes today and fails on any new one, naming file:line. When a known finding is fixed the test fails too, until its line is
 * removed from KNOWN: the list only shrinks.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as ts from 'typescript';

const ROOT = path.join(__dirname, '..', '..');

/** Findings left in files this change does not own; each is the trimmed source line of a finding (one entry per finding). */
const KNOWN: Record<string, readonly string[]> = {};

/**
 * Common error codes of the AWS query and JSON APIs ("Common Errors" pages, e.g.
 * https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/CommonErrors.html,
 * https://docs.aws.amazon.com/autoscaling/ec2/APIReference/CommonErrors.html, https://docs.aws.amazon.com/sns/latest/api/CommonErrors.html).
 */
const COMMON_CODES = [
  'AccessDenied',
  'AccessDeniedException',
  'ExpiredTokenException',
  'IncompleteSignature',
  'InternalFailure',
  'InvalidAction',
  'InvalidClientTokenId',
  'InvalidParameterCombination',
  'InvalidParameterValue',
  'InvalidQueryParameter',
  'MalformedQueryString',
  'MissingAction',
  'MissingAuthenticationToken',
  'MissingParameter',
  'NotAuthorized',
  'OptInRequired',
  'RequestExpired',
  'RequestLimitExceeded',
  'ServiceUnavailable',
  'Throttling',
  'ThrottlingException',
  'UnrecognizedClientException',
  'ValidationError',
];

export interface Finding {
  readonly file: string;
  readonly line: number;
  readonly rule: 'service-exception-class' | 'sdk-error-field' | 'aws-error-name';
  readonly text: string;
}

/** Exception classes of the installed SDK clients, read from their declarations (no client is loaded). */
function sdkExceptionClasses(): Set<string> {
  const names = new Set<string>();
  const scope = path.join(ROOT, 'node_modules', '@aws-sdk');
  for (const pkg of fs.readdirSync(scope).filter((p) => p.startsWith('client-'))) {
    const models = path.join(scope, pkg, 'dist-types', 'models');
    if (!fs.existsSync(models)) continue;
    for (const f of fs.readdirSync(models).filter((x) => x.endsWith('.d.ts'))) {
      const text = fs.readFileSync(path.join(models, f), 'utf8');
      for (const m of text.matchAll(/declare class (\w+) extends (\w+)/g)) {
        if (/ServiceException$|^__BaseException$/.test(m[2]) || m[1].endsWith('ServiceException')) names.add(m[1]);
      }
    }
  }
  return names;
}

/** Error codes the documented bodies answer with (first argument of the envelope builders in test/wire/bodies.ts). */
function documentedCodes(): Set<string> {
  const text = fs.readFileSync(path.join(ROOT, 'test', 'wire', 'bodies.ts'), 'utf8');
  return new Set([...text.matchAll(/\b(?:ec2Error|queryError|jsonError|route53Error)\('([^']+)'/g)].map((m) => m[1]));
}

export interface Vocabulary {
  readonly exceptionClasses: ReadonlySet<string>;
  readonly isAwsName: (name: string) => boolean;
}

export function vocabulary(): Vocabulary {
  const exceptionClasses = sdkExceptionClasses();
  const codes = new Set([...documentedCodes(), ...COMMON_CODES]);
  return {
    exceptionClasses,
    isAwsName: (n) => /(Exception|Fault)$/.test(n) || /^[A-Z][A-Za-z0-9]*(\.[A-Z][A-Za-z0-9]*)+$/.test(n) || exceptionClasses.has(n) || codes.has(n),
  };
}

const isSdkModule = (m: string) => m.startsWith('@aws-sdk/') || m.startsWith('@smithy/');

/** True when `node` lies in the arguments of an `expect(...)` matcher call (`expect(x).toMatchObject(node)`, `expect.objectContaining(node)`). */
function inMatcher(node: ts.Node): boolean {
  for (let child = node, p = node.parent; p; child = p, p = p.parent) {
    if (!ts.isCallExpression(p) || !p.arguments.some((a) => a === child)) continue;
    let callee: ts.Expression = p.expression;
    if (!ts.isPropertyAccessExpression(callee)) continue;
    while (ts.isPropertyAccessExpression(callee) || ts.isCallExpression(callee)) callee = callee.expression;
    if (ts.isIdentifier(callee) && callee.text === 'expect') return true;
  }
  return false;
}

const propName = (p: ts.ObjectLiteralElementLike): string | undefined =>
  p.name && (ts.isIdentifier(p.name) || ts.isStringLiteral(p.name)) ? p.name.text : undefined;

function propValue(p: ts.ObjectLiteralElementLike): ts.Expression | undefined {
  if (ts.isPropertyAssignment(p)) return p.initializer;
  if (ts.isShorthandPropertyAssignment(p)) return p.name;
  return undefined;
}

const REJECTERS = new Set(['rejects', 'rejectsOnce', 'mockRejectedValue', 'mockRejectedValueOnce']);

/** An object literal that is thrown or rejected as it stands. */
function isThrownLiteral(obj: ts.ObjectLiteralExpression): boolean {
  let n: ts.Node = obj;
  while (ts.isParenthesizedExpression(n.parent) || ts.isAsExpression(n.parent)) n = n.parent;
  const p = n.parent;
  if (ts.isThrowStatement(p)) return true;
  if (ts.isCallExpression(p) && p.arguments.includes(n as ts.Expression)) {
    const c = p.expression;
    if (ts.isPropertyAccessExpression(c)) {
      if (REJECTERS.has(c.name.text)) return true;
      if (c.name.text === 'reject' && ts.isIdentifier(c.expression) && c.expression.text === 'Promise') return true;
    }
  }
  return false;
}

const isObjectAssignSource = (obj: ts.ObjectLiteralExpression): boolean => {
  const p = obj.parent;
  return (
    ts.isCallExpression(p) &&
    p.arguments.indexOf(obj) > 0 &&
    ts.isPropertyAccessExpression(p.expression) &&
    p.expression.name.text === 'assign' &&
    ts.isIdentifier(p.expression.expression) &&
    p.expression.expression.text === 'Object'
  );
};

/** Scans one file's source; `file` is the path relative to the repository root. */
export function scanSource(file: string, source: string, vocab: Vocabulary): Finding[] {
  const sf = ts.createSourceFile(file, source, ts.ScriptTarget.Latest, true, file.endsWith('.ts') ? ts.ScriptKind.TS : ts.ScriptKind.JS);
  const findings: Finding[] = [];
  const add = (node: ts.Node, rule: Finding['rule']) => {
    const line = sf.getLineAndCharacterOfPosition(node.getStart(sf)).line;
    findings.push({ file, line: line + 1, rule, text: source.split('\n')[line].trim() });
  };

  // Local names bound to SDK exports: `import { A as B } from '@aws-sdk/x'` (B -> A) and `import * as ns from '@aws-sdk/x'`.
  const sdkNamed = new Map<string, string>();
  const sdkNamespaces = new Set<string>();
  const calls = new Map<string, ts.CallExpression[]>();
  const literalVars = new Map<string, ts.Expression[]>();
  const visitDecl = (n: ts.Node): void => {
    if (ts.isImportDeclaration(n) && ts.isStringLiteral(n.moduleSpecifier) && isSdkModule(n.moduleSpecifier.text) && n.importClause?.namedBindings) {
      const b = n.importClause.namedBindings;
      if (ts.isNamespaceImport(b)) sdkNamespaces.add(b.name.text);
      else for (const e of b.elements) sdkNamed.set(e.name.text, (e.propertyName ?? e.name).text);
    }
    if (ts.isCallExpression(n) && ts.isIdentifier(n.expression)) calls.set(n.expression.text, [...(calls.get(n.expression.text) ?? []), n]);
    if (ts.isVariableDeclaration(n) && ts.isIdentifier(n.name) && n.initializer) literalVars.set(n.name.text, [...(literalVars.get(n.name.text) ?? []), n.initializer]);
    ts.forEachChild(n, visitDecl);
  };
  visitDecl(sf);

  const isSdkExceptionClass = (name: string) => name === 'ServiceException' || name.endsWith('ServiceException') || vocab.exceptionClasses.has(name);

  /** The strings `e` can be, or undefined when the file does not show it. */
  const resolve = (e: ts.Expression, depth = 0): string[] | undefined => {
    if (depth > 4) return undefined;
    if (ts.isStringLiteral(e) || ts.isNoSubstitutionTemplateLiteral(e)) return [e.text];
    if (ts.isParenthesizedExpression(e) || ts.isAsExpression(e)) return resolve(e.expression, depth + 1);
    if (ts.isConditionalExpression(e)) {
      const a = resolve(e.whenTrue, depth + 1);
      const b = resolve(e.whenFalse, depth + 1);
      return a && b ? [...a, ...b] : undefined;
    }
    if (!ts.isIdentifier(e)) return undefined;
    // A parameter of the enclosing function: the literal arguments of that function's calls in this file.
    for (let p: ts.Node | undefined = e.parent; p; p = p.parent) {
      if (!ts.isFunctionLike(p)) continue;
      const index = p.parameters.findIndex((q) => ts.isIdentifier(q.name) && q.name.text === e.text);
      if (index < 0) continue;
      const fnName =
        (ts.isFunctionDeclaration(p) || ts.isFunctionExpression(p)) && p.name
          ? p.name.text
          : ts.isVariableDeclaration(p.parent) && ts.isIdentifier(p.parent.name)
            ? p.parent.name.text
            : undefined;
      const sites = fnName ? calls.get(fnName) ?? [] : [];
      if (sites.length === 0) return undefined;
      const out: string[] = [];
      for (const c of sites) {
        const arg = c.arguments[index];
        const r = arg && resolve(arg, depth + 1);
        if (!r) return undefined;
        out.push(...r);
      }
      return out;
    }
    const inits = literalVars.get(e.text);
    if (!inits) return undefined;
    const out: string[] = [];
    for (const i of inits) {
      const r = resolve(i, depth + 1);
      if (!r) return undefined;
      out.push(...r);
    }
    return out;
  };
  const awsOrUnknown = (e: ts.Expression) => {
    const r = resolve(e);
    return r === undefined || r.some(vocab.isAwsName);
  };

  const reported = new Set<ts.Node>();
  const visit = (n: ts.Node): void => {
    if (ts.isNewExpression(n) && !inMatcher(n)) {
      const c = n.expression;
      const imported = ts.isIdentifier(c) ? sdkNamed.get(c.text) : ts.isPropertyAccessExpression(c) && ts.isIdentifier(c.expression) && sdkNamespaces.has(c.expression.text) ? c.name.text : undefined;
      if (imported !== undefined && isSdkExceptionClass(imported)) {
        add(n, 'service-exception-class');
        n.arguments?.forEach((a) => reported.add(a)); // one finding per error: its argument object is part of it
      }
    }
    if (ts.isObjectLiteralExpression(n) && !reported.has(n) && !inMatcher(n)) {
      const props = new Map(n.properties.map((p) => [propName(p), p] as const));
      const assignSource = isObjectAssignSource(n);
      const sdkField =
        ['$fault', '$retryable', '$response'].some((k) => props.has(k)) ||
        (props.has('$metadata') && (props.has('name') || props.has('message'))) ||
        (assignSource && ['$metadata', 'Code', 'Type'].some((k) => props.has(k)));
      const nameProp = props.get('name');
      const nameValue = nameProp && propValue(nameProp);
      if (sdkField) add(n, 'sdk-error-field');
      else if (nameValue && (assignSource || isThrownLiteral(n)) && awsOrUnknown(nameValue)) add(n, 'aws-error-name');
    }
    if (ts.isBinaryExpression(n) && n.operatorToken.kind === ts.SyntaxKind.EqualsToken && ts.isPropertyAccessExpression(n.left) && n.left.name.text === 'name' && awsOrUnknown(n.right)) {
      add(n, 'aws-error-name');
    }
    if (ts.isPropertyDeclaration(n) && ts.isIdentifier(n.name) && n.name.text === 'name' && n.initializer && ts.isClassLike(n.parent) && n.parent.heritageClauses && awsOrUnknown(n.initializer)) {
      add(n, 'aws-error-name');
    }
    ts.forEachChild(n, visit);
  };
  visit(sf);
  return findings;
}

function sourceFiles(dir: string): string[] {
  const out: string[] = [];
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, e.name);
    const rel = path.relative(ROOT, full).split(path.sep).join('/');
    if (e.isDirectory()) {
      if (e.name !== 'node_modules' && rel !== 'bench/results') out.push(...sourceFiles(full));
    } else if (/\.(ts|tsx|js|mjs|cjs)$/.test(e.name) && !e.name.endsWith('.d.ts')) out.push(rel);
  }
  return out;
}

export function scanRepository(vocab: Vocabulary): Finding[] {
  return ['test', 'bench'].flatMap((d) => sourceFiles(path.join(ROOT, d))).flatMap((f) => scanSource(f, fs.readFileSync(path.join(ROOT, f), 'utf8'), vocab));
}

const vocab = vocabulary();
const scan = (src: string, file = 'test/x.test.ts') => scanSource(file, src, vocab).map((f) => `${f.line}:${f.rule}`);

describe('the rule', () => {
  test('flags SDK exception classes constructed by hand, named or through a namespace import, whatever the message', () => {
    expect(
      scan(
        [
          "import { InvalidChangeBatch as ICB } from '@aws-sdk/client-route-53'; import { SQSServiceException } from '@aws-sdk/client-sqs';",
          "import * as rds from '@aws-sdk/client-rds';",
          "import { ServiceException } from '@smithy/smithy-client';",
          "const a = new ICB({ message: 'x', $metadata: {} });",
          "const b = new rds.DBInstanceNotFoundFault({ message: 'x', $metadata: {} });",
          "const c = new SQSServiceException({ name: 'X', $fault: 'client', $metadata: {} });",
          "const d = new ServiceException({ name: 'X', $fault: 'client', $metadata: {} });",
          "const e = new rds.RDSClient({});",
        ].join('\n'),
      ),
    ).toEqual(['4:service-exception-class', '5:service-exception-class', '6:service-exception-class', '7:service-exception-class']);
  });

  test('flags an AWS name, $metadata, $fault or Code given to an error by hand', () => {
    expect(
      scan(
        [
          "const a = Object.assign(new Error('m'), { name: 'InvalidInstanceID.NotFound' });",
          "const b = Object.assign(new Error('m'), { name: 'ValidationError' });",
          "const c = Object.assign(new Error('m'), { Code: 'DBInstanceNotFound' });",
          "mock.rejects({ name: 'Throttling', message: 'Rate exceeded' });",
          "throw { name: 'ConditionalCheckFailedException' };",
          "e.name = 'DBInstanceNotFoundFault';",
          "class Fake extends Error { name = 'ThrottlingException'; }",
          "const f = { name: 'X', message: 'm', $metadata: { httpStatusCode: 400 } };",
          "const g = { $fault: 'client' };",
        ].join('\n'),
      ),
    ).toEqual(['1:aws-error-name', '2:aws-error-name', '3:sdk-error-field', '4:aws-error-name', '5:aws-error-name', '6:aws-error-name', '7:aws-error-name', '8:sdk-error-field', '9:sdk-error-field']);
  });

  test('follows a helper parameter to its call sites: an AWS name at any site, or a site it cannot read, is a finding', () => {
    const helper = "const err = (name: string) => Object.assign(new Error(name), { name });\n";
    expect(scan(`${helper}throw err('Transient');\nthrow err('Fatal');`)).toEqual([]);
    expect(scan(`${helper}throw err('Transient');\nthrow err('RequestLimitExceeded');`)).toEqual(['1:aws-error-name']);
    expect(scan(`${helper}throw err(someName);`)).toEqual(['1:aws-error-name']);
    expect(scan("function make(n: string) { const e = new Error(); e.name = n; return e; }\nmake('Missing');")).toEqual([]);
    expect(scan("function make(n: string) { const e = new Error(); e.name = n; return e; }\nmake(ok ? 'Missing' : 'SomeFault');")).toEqual(['1:aws-error-name']);
  });

  test('leaves non-AWS errors, success outputs and assertions alone', () => {
    expect(
      scan(
        [
          "import { DescribeInstancesCommand } from '@aws-sdk/client-ec2';",
          "const a = Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' });",
          "const b = Object.assign(new Error('nope'), { code: 'ENOENT', errno: -2 });",
          "mock.resolves({ Addresses: [], $metadata: {} });",
          "await expect(p).rejects.toMatchObject({ name: 'ValidationException', $metadata: { httpStatusCode: 400 }, message: 'm' });",
          "expect(err).toEqual(expect.objectContaining({ $fault: 'client' }));",
          "const c = new DescribeInstancesCommand({});",
          "const d = { name: 'ThrottlingException' }; // data, not thrown",
          "throw new Error('boom');",
        ].join('\n'),
      ),
    ).toEqual([]);
  });
});

describe('test/ and bench/', () => {
  test('make no AWS SDK error by hand beyond the known findings, and every known finding is still there', () => {
    const found = scanRepository(vocab);
    const remaining = new Map(Object.entries(KNOWN).map(([f, lines]) => [f, [...lines]]));
    const fresh: string[] = [];
    for (const f of found) {
      const known = remaining.get(f.file);
      const i = known?.indexOf(f.text) ?? -1;
      if (known && i >= 0) known.splice(i, 1);
      else fresh.push(`${f.file}:${f.line}: ${f.rule}: ${f.text}`);
    }
    const fixed = [...remaining].flatMap(([f, lines]) => lines.map((l) => `${f}: ${l}`));
    expect({ newFindings: fresh, fixedButStillListedInKnown: fixed }).toEqual({ newFindings: [], fixedButStillListedInKnown: [] });
  });
});
