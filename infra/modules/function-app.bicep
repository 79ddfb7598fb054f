// The Function App on Flex Consumption (Linux; one app per plan) with the user-assigned identity.
// Flex Consumption has no deployment slots: a rollback is a redeploy of the previous package.

param name string
param planName string
param location string
param tags object = {}

@description('Resource id of the user-assigned managed identity.')
param identityResourceId string

@description('Blob endpoint of the storage account, ending in /.')
param storageBlobEndpoint string

@description('Blob container that holds the deployed package.')
param deploymentContainerName string

@description('Upper bound of instances (the plan scales per function group, to zero when idle).')
@minValue(40)
@maxValue(1000)
param maximumInstanceCount int = 100

@allowed([512, 2048, 4096])
param instanceMemoryMB int = 2048

@description('Every app setting, composed in main.bicep and applied as given (test/unit/infra checks them against the config schema).')
param appSettings object

resource plan 'Microsoft.Web/serverfarms@2024-04-01' = {
  name: planName
  location: location
  tags: tags
  kind: 'functionapp'
  sku: {
    tier: 'FlexConsumption'
    name: 'FC1'
  }
  properties: {
    reserved: true
  }
}

resource site 'Microsoft.Web/sites@2024-04-01' = {
  name: name
  location: location
  // azd finds the service it deploys by this tag (azure.yaml: services.api).
  tags: union(tags, { 'azd-service-name': 'api' })
  kind: 'functionapp,linux'
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: {
      '${identityResourceId}': {}
    }
  }
  properties: {
    serverFarmId: plan.id
    httpsOnly: true
    siteConfig: {
      minTlsVersion: '1.2'
    }
    functionAppConfig: {
      deployment: {
        storage: {
          type: 'blobContainer'
          value: '${storageBlobEndpoint}${deploymentContainerName}'
          authentication: {
            type: 'UserAssignedIdentity'
            userAssignedIdentityResourceId: identityResourceId
          }
        }
      }
      scaleAndConcurrency: {
        maximumInstanceCount: maximumInstanceCount
        instanceMemoryMB: instanceMemoryMB
      }
      // Node 22 in Azure (Functions' Node 20 support has ended); the code stays Node 20-compatible.
      // On Flex Consumption the runtime is set here, never with FUNCTIONS_WORKER_RUNTIME.
      runtime: {
        name: 'node'
        version: '22'
      }
    }
  }
}

// The whole set of app settings: this resource replaces whatever was there on each deployment.
resource settings 'Microsoft.Web/sites/config@2024-04-01' = {
  parent: site
  name: 'appsettings'
  properties: appSettings
}

output name string = site.name
output defaultHostName string = site.properties.defaultHostName
