#!/usr/bin/env node
import { App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { buildReferenceSite, siteOptionsFromContext } from './site';

const app = new App();
// Blue/green: `cdk deploy Addresses -c active=green` moves the names; only the Addresses stack changes.
buildReferenceSite(app, siteOptionsFromContext(app));
// Every stack is checked against cdk-nag's AwsSolutions pack; findings must be fixed or acknowledged.
Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
app.synth();
