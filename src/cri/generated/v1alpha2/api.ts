import type * as grpc from '@grpc/grpc-js';
import type { EnumTypeDefinition, MessageTypeDefinition } from '@grpc/proto-loader';

import type { AttachRequest as _runtime_v1alpha2_AttachRequest, AttachRequest__Output as _runtime_v1alpha2_AttachRequest__Output } from './runtime/v1alpha2/AttachRequest.js';
import type { AttachResponse as _runtime_v1alpha2_AttachResponse, AttachResponse__Output as _runtime_v1alpha2_AttachResponse__Output } from './runtime/v1alpha2/AttachResponse.js';
import type { AuthConfig as _runtime_v1alpha2_AuthConfig, AuthConfig__Output as _runtime_v1alpha2_AuthConfig__Output } from './runtime/v1alpha2/AuthConfig.js';
import type { Capability as _runtime_v1alpha2_Capability, Capability__Output as _runtime_v1alpha2_Capability__Output } from './runtime/v1alpha2/Capability.js';
import type { Container as _runtime_v1alpha2_Container, Container__Output as _runtime_v1alpha2_Container__Output } from './runtime/v1alpha2/Container.js';
import type { ContainerAttributes as _runtime_v1alpha2_ContainerAttributes, ContainerAttributes__Output as _runtime_v1alpha2_ContainerAttributes__Output } from './runtime/v1alpha2/ContainerAttributes.js';
import type { ContainerConfig as _runtime_v1alpha2_ContainerConfig, ContainerConfig__Output as _runtime_v1alpha2_ContainerConfig__Output } from './runtime/v1alpha2/ContainerConfig.js';
import type { ContainerFilter as _runtime_v1alpha2_ContainerFilter, ContainerFilter__Output as _runtime_v1alpha2_ContainerFilter__Output } from './runtime/v1alpha2/ContainerFilter.js';
import type { ContainerMetadata as _runtime_v1alpha2_ContainerMetadata, ContainerMetadata__Output as _runtime_v1alpha2_ContainerMetadata__Output } from './runtime/v1alpha2/ContainerMetadata.js';
import type { ContainerResources as _runtime_v1alpha2_ContainerResources, ContainerResources__Output as _runtime_v1alpha2_ContainerResources__Output } from './runtime/v1alpha2/ContainerResources.js';
import type { ContainerStateValue as _runtime_v1alpha2_ContainerStateValue, ContainerStateValue__Output as _runtime_v1alpha2_ContainerStateValue__Output } from './runtime/v1alpha2/ContainerStateValue.js';
import type { ContainerStats as _runtime_v1alpha2_ContainerStats, ContainerStats__Output as _runtime_v1alpha2_ContainerStats__Output } from './runtime/v1alpha2/ContainerStats.js';
import type { ContainerStatsFilter as _runtime_v1alpha2_ContainerStatsFilter, ContainerStatsFilter__Output as _runtime_v1alpha2_ContainerStatsFilter__Output } from './runtime/v1alpha2/ContainerStatsFilter.js';
import type { ContainerStatsRequest as _runtime_v1alpha2_ContainerStatsRequest, ContainerStatsRequest__Output as _runtime_v1alpha2_ContainerStatsRequest__Output } from './runtime/v1alpha2/ContainerStatsRequest.js';
import type { ContainerStatsResponse as _runtime_v1alpha2_ContainerStatsResponse, ContainerStatsResponse__Output as _runtime_v1alpha2_ContainerStatsResponse__Output } from './runtime/v1alpha2/ContainerStatsResponse.js';
import type { ContainerStatus as _runtime_v1alpha2_ContainerStatus, ContainerStatus__Output as _runtime_v1alpha2_ContainerStatus__Output } from './runtime/v1alpha2/ContainerStatus.js';
import type { ContainerStatusRequest as _runtime_v1alpha2_ContainerStatusRequest, ContainerStatusRequest__Output as _runtime_v1alpha2_ContainerStatusRequest__Output } from './runtime/v1alpha2/ContainerStatusRequest.js';
import type { ContainerStatusResponse as _runtime_v1alpha2_ContainerStatusResponse, ContainerStatusResponse__Output as _runtime_v1alpha2_ContainerStatusResponse__Output } from './runtime/v1alpha2/ContainerStatusResponse.js';
import type { CpuUsage as _runtime_v1alpha2_CpuUsage, CpuUsage__Output as _runtime_v1alpha2_CpuUsage__Output } from './runtime/v1alpha2/CpuUsage.js';
import type { CreateContainerRequest as _runtime_v1alpha2_CreateContainerRequest, CreateContainerRequest__Output as _runtime_v1alpha2_CreateContainerRequest__Output } from './runtime/v1alpha2/CreateContainerRequest.js';
import type { CreateContainerResponse as _runtime_v1alpha2_CreateContainerResponse, CreateContainerResponse__Output as _runtime_v1alpha2_CreateContainerResponse__Output } from './runtime/v1alpha2/CreateContainerResponse.js';
import type { DNSConfig as _runtime_v1alpha2_DNSConfig, DNSConfig__Output as _runtime_v1alpha2_DNSConfig__Output } from './runtime/v1alpha2/DNSConfig.js';
import type { Device as _runtime_v1alpha2_Device, Device__Output as _runtime_v1alpha2_Device__Output } from './runtime/v1alpha2/Device.js';
import type { ExecRequest as _runtime_v1alpha2_ExecRequest, ExecRequest__Output as _runtime_v1alpha2_ExecRequest__Output } from './runtime/v1alpha2/ExecRequest.js';
import type { ExecResponse as _runtime_v1alpha2_ExecResponse, ExecResponse__Output as _runtime_v1alpha2_ExecResponse__Output } from './runtime/v1alpha2/ExecResponse.js';
import type { ExecSyncRequest as _runtime_v1alpha2_ExecSyncRequest, ExecSyncRequest__Output as _runtime_v1alpha2_ExecSyncRequest__Output } from './runtime/v1alpha2/ExecSyncRequest.js';
import type { ExecSyncResponse as _runtime_v1alpha2_ExecSyncResponse, ExecSyncResponse__Output as _runtime_v1alpha2_ExecSyncResponse__Output } from './runtime/v1alpha2/ExecSyncResponse.js';
import type { FilesystemIdentifier as _runtime_v1alpha2_FilesystemIdentifier, FilesystemIdentifier__Output as _runtime_v1alpha2_FilesystemIdentifier__Output } from './runtime/v1alpha2/FilesystemIdentifier.js';
import type { FilesystemUsage as _runtime_v1alpha2_FilesystemUsage, FilesystemUsage__Output as _runtime_v1alpha2_FilesystemUsage__Output } from './runtime/v1alpha2/FilesystemUsage.js';
import type { HugepageLimit as _runtime_v1alpha2_HugepageLimit, HugepageLimit__Output as _runtime_v1alpha2_HugepageLimit__Output } from './runtime/v1alpha2/HugepageLimit.js';
import type { IDMapping as _runtime_v1alpha2_IDMapping, IDMapping__Output as _runtime_v1alpha2_IDMapping__Output } from './runtime/v1alpha2/IDMapping.js';
import type { Image as _runtime_v1alpha2_Image, Image__Output as _runtime_v1alpha2_Image__Output } from './runtime/v1alpha2/Image.js';
import type { ImageFilter as _runtime_v1alpha2_ImageFilter, ImageFilter__Output as _runtime_v1alpha2_ImageFilter__Output } from './runtime/v1alpha2/ImageFilter.js';
import type { ImageFsInfoRequest as _runtime_v1alpha2_ImageFsInfoRequest, ImageFsInfoRequest__Output as _runtime_v1alpha2_ImageFsInfoRequest__Output } from './runtime/v1alpha2/ImageFsInfoRequest.js';
import type { ImageFsInfoResponse as _runtime_v1alpha2_ImageFsInfoResponse, ImageFsInfoResponse__Output as _runtime_v1alpha2_ImageFsInfoResponse__Output } from './runtime/v1alpha2/ImageFsInfoResponse.js';
import type { ImageServiceClient as _runtime_v1alpha2_ImageServiceClient, ImageServiceDefinition as _runtime_v1alpha2_ImageServiceDefinition } from './runtime/v1alpha2/ImageService.js';
import type { ImageSpec as _runtime_v1alpha2_ImageSpec, ImageSpec__Output as _runtime_v1alpha2_ImageSpec__Output } from './runtime/v1alpha2/ImageSpec.js';
import type { ImageStatusRequest as _runtime_v1alpha2_ImageStatusRequest, ImageStatusRequest__Output as _runtime_v1alpha2_ImageStatusRequest__Output } from './runtime/v1alpha2/ImageStatusRequest.js';
import type { ImageStatusResponse as _runtime_v1alpha2_ImageStatusResponse, ImageStatusResponse__Output as _runtime_v1alpha2_ImageStatusResponse__Output } from './runtime/v1alpha2/ImageStatusResponse.js';
import type { Int64Value as _runtime_v1alpha2_Int64Value, Int64Value__Output as _runtime_v1alpha2_Int64Value__Output } from './runtime/v1alpha2/Int64Value.js';
import type { KeyValue as _runtime_v1alpha2_KeyValue, KeyValue__Output as _runtime_v1alpha2_KeyValue__Output } from './runtime/v1alpha2/KeyValue.js';
import type { LinuxContainerConfig as _runtime_v1alpha2_LinuxContainerConfig, LinuxContainerConfig__Output as _runtime_v1alpha2_LinuxContainerConfig__Output } from './runtime/v1alpha2/LinuxContainerConfig.js';
import type { LinuxContainerResources as _runtime_v1alpha2_LinuxContainerResources, LinuxContainerResources__Output as _runtime_v1alpha2_LinuxContainerResources__Output } from './runtime/v1alpha2/LinuxContainerResources.js';
import type { LinuxContainerSecurityContext as _runtime_v1alpha2_LinuxContainerSecurityContext, LinuxContainerSecurityContext__Output as _runtime_v1alpha2_LinuxContainerSecurityContext__Output } from './runtime/v1alpha2/LinuxContainerSecurityContext.js';
import type { LinuxPodSandboxConfig as _runtime_v1alpha2_LinuxPodSandboxConfig, LinuxPodSandboxConfig__Output as _runtime_v1alpha2_LinuxPodSandboxConfig__Output } from './runtime/v1alpha2/LinuxPodSandboxConfig.js';
import type { LinuxPodSandboxStats as _runtime_v1alpha2_LinuxPodSandboxStats, LinuxPodSandboxStats__Output as _runtime_v1alpha2_LinuxPodSandboxStats__Output } from './runtime/v1alpha2/LinuxPodSandboxStats.js';
import type { LinuxPodSandboxStatus as _runtime_v1alpha2_LinuxPodSandboxStatus, LinuxPodSandboxStatus__Output as _runtime_v1alpha2_LinuxPodSandboxStatus__Output } from './runtime/v1alpha2/LinuxPodSandboxStatus.js';
import type { LinuxSandboxSecurityContext as _runtime_v1alpha2_LinuxSandboxSecurityContext, LinuxSandboxSecurityContext__Output as _runtime_v1alpha2_LinuxSandboxSecurityContext__Output } from './runtime/v1alpha2/LinuxSandboxSecurityContext.js';
import type { ListContainerStatsRequest as _runtime_v1alpha2_ListContainerStatsRequest, ListContainerStatsRequest__Output as _runtime_v1alpha2_ListContainerStatsRequest__Output } from './runtime/v1alpha2/ListContainerStatsRequest.js';
import type { ListContainerStatsResponse as _runtime_v1alpha2_ListContainerStatsResponse, ListContainerStatsResponse__Output as _runtime_v1alpha2_ListContainerStatsResponse__Output } from './runtime/v1alpha2/ListContainerStatsResponse.js';
import type { ListContainersRequest as _runtime_v1alpha2_ListContainersRequest, ListContainersRequest__Output as _runtime_v1alpha2_ListContainersRequest__Output } from './runtime/v1alpha2/ListContainersRequest.js';
import type { ListContainersResponse as _runtime_v1alpha2_ListContainersResponse, ListContainersResponse__Output as _runtime_v1alpha2_ListContainersResponse__Output } from './runtime/v1alpha2/ListContainersResponse.js';
import type { ListImagesRequest as _runtime_v1alpha2_ListImagesRequest, ListImagesRequest__Output as _runtime_v1alpha2_ListImagesRequest__Output } from './runtime/v1alpha2/ListImagesRequest.js';
import type { ListImagesResponse as _runtime_v1alpha2_ListImagesResponse, ListImagesResponse__Output as _runtime_v1alpha2_ListImagesResponse__Output } from './runtime/v1alpha2/ListImagesResponse.js';
import type { ListPodSandboxRequest as _runtime_v1alpha2_ListPodSandboxRequest, ListPodSandboxRequest__Output as _runtime_v1alpha2_ListPodSandboxRequest__Output } from './runtime/v1alpha2/ListPodSandboxRequest.js';
import type { ListPodSandboxResponse as _runtime_v1alpha2_ListPodSandboxResponse, ListPodSandboxResponse__Output as _runtime_v1alpha2_ListPodSandboxResponse__Output } from './runtime/v1alpha2/ListPodSandboxResponse.js';
import type { ListPodSandboxStatsRequest as _runtime_v1alpha2_ListPodSandboxStatsRequest, ListPodSandboxStatsRequest__Output as _runtime_v1alpha2_ListPodSandboxStatsRequest__Output } from './runtime/v1alpha2/ListPodSandboxStatsRequest.js';
import type { ListPodSandboxStatsResponse as _runtime_v1alpha2_ListPodSandboxStatsResponse, ListPodSandboxStatsResponse__Output as _runtime_v1alpha2_ListPodSandboxStatsResponse__Output } from './runtime/v1alpha2/ListPodSandboxStatsResponse.js';
import type { MemoryUsage as _runtime_v1alpha2_MemoryUsage, MemoryUsage__Output as _runtime_v1alpha2_MemoryUsage__Output } from './runtime/v1alpha2/MemoryUsage.js';
import type { Mount as _runtime_v1alpha2_Mount, Mount__Output as _runtime_v1alpha2_Mount__Output } from './runtime/v1alpha2/Mount.js';
import type { Namespace as _runtime_v1alpha2_Namespace, Namespace__Output as _runtime_v1alpha2_Namespace__Output } from './runtime/v1alpha2/Namespace.js';
import type { NamespaceOption as _runtime_v1alpha2_NamespaceOption, NamespaceOption__Output as _runtime_v1alpha2_NamespaceOption__Output } from './runtime/v1alpha2/NamespaceOption.js';
import type { NetworkConfig as _runtime_v1alpha2_NetworkConfig, NetworkConfig__Output as _runtime_v1alpha2_NetworkConfig__Output } from './runtime/v1alpha2/NetworkConfig.js';
import type { NetworkInterfaceUsage as _runtime_v1alpha2_NetworkInterfaceUsage, NetworkInterfaceUsage__Output as _runtime_v1alpha2_NetworkInterfaceUsage__Output } from './runtime/v1alpha2/NetworkInterfaceUsage.js';
import type { NetworkUsage as _runtime_v1alpha2_NetworkUsage, NetworkUsage__Output as _runtime_v1alpha2_NetworkUsage__Output } from './runtime/v1alpha2/NetworkUsage.js';
import type { PodIP as _runtime_v1alpha2_PodIP, PodIP__Output as _runtime_v1alpha2_PodIP__Output } from './runtime/v1alpha2/PodIP.js';
import type { PodSandbox as _runtime_v1alpha2_PodSandbox, PodSandbox__Output as _runtime_v1alpha2_PodSandbox__Output } from './runtime/v1alpha2/PodSandbox.js';
import type { PodSandboxAttributes as _runtime_v1alpha2_PodSandboxAttributes, PodSandboxAttributes__Output as _runtime_v1alpha2_PodSandboxAttributes__Output } from './runtime/v1alpha2/PodSandboxAttributes.js';
import type { PodSandboxConfig as _runtime_v1alpha2_PodSandboxConfig, PodSandboxConfig__Output as _runtime_v1alpha2_PodSandboxConfig__Output } from './runtime/v1alpha2/PodSandboxConfig.js';
import type { PodSandboxFilter as _runtime_v1alpha2_PodSandboxFilter, PodSandboxFilter__Output as _runtime_v1alpha2_PodSandboxFilter__Output } from './runtime/v1alpha2/PodSandboxFilter.js';
import type { PodSandboxMetadata as _runtime_v1alpha2_PodSandboxMetadata, PodSandboxMetadata__Output as _runtime_v1alpha2_PodSandboxMetadata__Output } from './runtime/v1alpha2/PodSandboxMetadata.js';
import type { PodSandboxNetworkStatus as _runtime_v1alpha2_PodSandboxNetworkStatus, PodSandboxNetworkStatus__Output as _runtime_v1alpha2_PodSandboxNetworkStatus__Output } from './runtime/v1alpha2/PodSandboxNetworkStatus.js';
import type { PodSandboxStateValue as _runtime_v1alpha2_PodSandboxStateValue, PodSandboxStateValue__Output as _runtime_v1alpha2_PodSandboxStateValue__Output } from './runtime/v1alpha2/PodSandboxStateValue.js';
import type { PodSandboxStats as _runtime_v1alpha2_PodSandboxStats, PodSandboxStats__Output as _runtime_v1alpha2_PodSandboxStats__Output } from './runtime/v1alpha2/PodSandboxStats.js';
import type { PodSandboxStatsFilter as _runtime_v1alpha2_PodSandboxStatsFilter, PodSandboxStatsFilter__Output as _runtime_v1alpha2_PodSandboxStatsFilter__Output } from './runtime/v1alpha2/PodSandboxStatsFilter.js';
import type { PodSandboxStatsRequest as _runtime_v1alpha2_PodSandboxStatsRequest, PodSandboxStatsRequest__Output as _runtime_v1alpha2_PodSandboxStatsRequest__Output } from './runtime/v1alpha2/PodSandboxStatsRequest.js';
import type { PodSandboxStatsResponse as _runtime_v1alpha2_PodSandboxStatsResponse, PodSandboxStatsResponse__Output as _runtime_v1alpha2_PodSandboxStatsResponse__Output } from './runtime/v1alpha2/PodSandboxStatsResponse.js';
import type { PodSandboxStatus as _runtime_v1alpha2_PodSandboxStatus, PodSandboxStatus__Output as _runtime_v1alpha2_PodSandboxStatus__Output } from './runtime/v1alpha2/PodSandboxStatus.js';
import type { PodSandboxStatusRequest as _runtime_v1alpha2_PodSandboxStatusRequest, PodSandboxStatusRequest__Output as _runtime_v1alpha2_PodSandboxStatusRequest__Output } from './runtime/v1alpha2/PodSandboxStatusRequest.js';
import type { PodSandboxStatusResponse as _runtime_v1alpha2_PodSandboxStatusResponse, PodSandboxStatusResponse__Output as _runtime_v1alpha2_PodSandboxStatusResponse__Output } from './runtime/v1alpha2/PodSandboxStatusResponse.js';
import type { PortForwardRequest as _runtime_v1alpha2_PortForwardRequest, PortForwardRequest__Output as _runtime_v1alpha2_PortForwardRequest__Output } from './runtime/v1alpha2/PortForwardRequest.js';
import type { PortForwardResponse as _runtime_v1alpha2_PortForwardResponse, PortForwardResponse__Output as _runtime_v1alpha2_PortForwardResponse__Output } from './runtime/v1alpha2/PortForwardResponse.js';
import type { PortMapping as _runtime_v1alpha2_PortMapping, PortMapping__Output as _runtime_v1alpha2_PortMapping__Output } from './runtime/v1alpha2/PortMapping.js';
import type { ProcessUsage as _runtime_v1alpha2_ProcessUsage, ProcessUsage__Output as _runtime_v1alpha2_ProcessUsage__Output } from './runtime/v1alpha2/ProcessUsage.js';
import type { PullImageRequest as _runtime_v1alpha2_PullImageRequest, PullImageRequest__Output as _runtime_v1alpha2_PullImageRequest__Output } from './runtime/v1alpha2/PullImageRequest.js';
import type { PullImageResponse as _runtime_v1alpha2_PullImageResponse, PullImageResponse__Output as _runtime_v1alpha2_PullImageResponse__Output } from './runtime/v1alpha2/PullImageResponse.js';
import type { RemoveContainerRequest as _runtime_v1alpha2_RemoveContainerRequest, RemoveContainerRequest__Output as _runtime_v1alpha2_RemoveContainerRequest__Output } from './runtime/v1alpha2/RemoveContainerRequest.js';
import type { RemoveContainerResponse as _runtime_v1alpha2_RemoveContainerResponse, RemoveContainerResponse__Output as _runtime_v1alpha2_RemoveContainerResponse__Output } from './runtime/v1alpha2/RemoveContainerResponse.js';
import type { RemoveImageRequest as _runtime_v1alpha2_RemoveImageRequest, RemoveImageRequest__Output as _runtime_v1alpha2_RemoveImageRequest__Output } from './runtime/v1alpha2/RemoveImageRequest.js';
import type { RemoveImageResponse as _runtime_v1alpha2_RemoveImageResponse, RemoveImageResponse__Output as _runtime_v1alpha2_RemoveImageResponse__Output } from './runtime/v1alpha2/RemoveImageResponse.js';
import type { RemovePodSandboxRequest as _runtime_v1alpha2_RemovePodSandboxRequest, RemovePodSandboxRequest__Output as _runtime_v1alpha2_RemovePodSandboxRequest__Output } from './runtime/v1alpha2/RemovePodSandboxRequest.js';
import type { RemovePodSandboxResponse as _runtime_v1alpha2_RemovePodSandboxResponse, RemovePodSandboxResponse__Output as _runtime_v1alpha2_RemovePodSandboxResponse__Output } from './runtime/v1alpha2/RemovePodSandboxResponse.js';
import type { ReopenContainerLogRequest as _runtime_v1alpha2_ReopenContainerLogRequest, ReopenContainerLogRequest__Output as _runtime_v1alpha2_ReopenContainerLogRequest__Output } from './runtime/v1alpha2/ReopenContainerLogRequest.js';
import type { ReopenContainerLogResponse as _runtime_v1alpha2_ReopenContainerLogResponse, ReopenContainerLogResponse__Output as _runtime_v1alpha2_ReopenContainerLogResponse__Output } from './runtime/v1alpha2/ReopenContainerLogResponse.js';
import type { RunPodSandboxRequest as _runtime_v1alpha2_RunPodSandboxRequest, RunPodSandboxRequest__Output as _runtime_v1alpha2_RunPodSandboxRequest__Output } from './runtime/v1alpha2/RunPodSandboxRequest.js';
import type { RunPodSandboxResponse as _runtime_v1alpha2_RunPodSandboxResponse, RunPodSandboxResponse__Output as _runtime_v1alpha2_RunPodSandboxResponse__Output } from './runtime/v1alpha2/RunPodSandboxResponse.js';
import type { RuntimeCondition as _runtime_v1alpha2_RuntimeCondition, RuntimeCondition__Output as _runtime_v1alpha2_RuntimeCondition__Output } from './runtime/v1alpha2/RuntimeCondition.js';
import type { RuntimeConfig as _runtime_v1alpha2_RuntimeConfig, RuntimeConfig__Output as _runtime_v1alpha2_RuntimeConfig__Output } from './runtime/v1alpha2/RuntimeConfig.js';
import type { RuntimeServiceClient as _runtime_v1alpha2_RuntimeServiceClient, RuntimeServiceDefinition as _runtime_v1alpha2_RuntimeServiceDefinition } from './runtime/v1alpha2/RuntimeService.js';
import type { RuntimeStatus as _runtime_v1alpha2_RuntimeStatus, RuntimeStatus__Output as _runtime_v1alpha2_RuntimeStatus__Output } from './runtime/v1alpha2/RuntimeStatus.js';
import type { SELinuxOption as _runtime_v1alpha2_SELinuxOption, SELinuxOption__Output as _runtime_v1alpha2_SELinuxOption__Output } from './runtime/v1alpha2/SELinuxOption.js';
import type { SecurityProfile as _runtime_v1alpha2_SecurityProfile, SecurityProfile__Output as _runtime_v1alpha2_SecurityProfile__Output } from './runtime/v1alpha2/SecurityProfile.js';
import type { StartContainerRequest as _runtime_v1alpha2_StartContainerRequest, StartContainerRequest__Output as _runtime_v1alpha2_StartContainerRequest__Output } from './runtime/v1alpha2/StartContainerRequest.js';
import type { StartContainerResponse as _runtime_v1alpha2_StartContainerResponse, StartContainerResponse__Output as _runtime_v1alpha2_StartContainerResponse__Output } from './runtime/v1alpha2/StartContainerResponse.js';
import type { StatusRequest as _runtime_v1alpha2_StatusRequest, StatusRequest__Output as _runtime_v1alpha2_StatusRequest__Output } from './runtime/v1alpha2/StatusRequest.js';
import type { StatusResponse as _runtime_v1alpha2_StatusResponse, StatusResponse__Output as _runtime_v1alpha2_StatusResponse__Output } from './runtime/v1alpha2/StatusResponse.js';
import type { StopContainerRequest as _runtime_v1alpha2_StopContainerRequest, StopContainerRequest__Output as _runtime_v1alpha2_StopContainerRequest__Output } from './runtime/v1alpha2/StopContainerRequest.js';
import type { StopContainerResponse as _runtime_v1alpha2_StopContainerResponse, StopContainerResponse__Output as _runtime_v1alpha2_StopContainerResponse__Output } from './runtime/v1alpha2/StopContainerResponse.js';
import type { StopPodSandboxRequest as _runtime_v1alpha2_StopPodSandboxRequest, StopPodSandboxRequest__Output as _runtime_v1alpha2_StopPodSandboxRequest__Output } from './runtime/v1alpha2/StopPodSandboxRequest.js';
import type { StopPodSandboxResponse as _runtime_v1alpha2_StopPodSandboxResponse, StopPodSandboxResponse__Output as _runtime_v1alpha2_StopPodSandboxResponse__Output } from './runtime/v1alpha2/StopPodSandboxResponse.js';
import type { UInt64Value as _runtime_v1alpha2_UInt64Value, UInt64Value__Output as _runtime_v1alpha2_UInt64Value__Output } from './runtime/v1alpha2/UInt64Value.js';
import type { UpdateContainerResourcesRequest as _runtime_v1alpha2_UpdateContainerResourcesRequest, UpdateContainerResourcesRequest__Output as _runtime_v1alpha2_UpdateContainerResourcesRequest__Output } from './runtime/v1alpha2/UpdateContainerResourcesRequest.js';
import type { UpdateContainerResourcesResponse as _runtime_v1alpha2_UpdateContainerResourcesResponse, UpdateContainerResourcesResponse__Output as _runtime_v1alpha2_UpdateContainerResourcesResponse__Output } from './runtime/v1alpha2/UpdateContainerResourcesResponse.js';
import type { UpdateRuntimeConfigRequest as _runtime_v1alpha2_UpdateRuntimeConfigRequest, UpdateRuntimeConfigRequest__Output as _runtime_v1alpha2_UpdateRuntimeConfigRequest__Output } from './runtime/v1alpha2/UpdateRuntimeConfigRequest.js';
import type { UpdateRuntimeConfigResponse as _runtime_v1alpha2_UpdateRuntimeConfigResponse, UpdateRuntimeConfigResponse__Output as _runtime_v1alpha2_UpdateRuntimeConfigResponse__Output } from './runtime/v1alpha2/UpdateRuntimeConfigResponse.js';
import type { UserNamespace as _runtime_v1alpha2_UserNamespace, UserNamespace__Output as _runtime_v1alpha2_UserNamespace__Output } from './runtime/v1alpha2/UserNamespace.js';
import type { VersionRequest as _runtime_v1alpha2_VersionRequest, VersionRequest__Output as _runtime_v1alpha2_VersionRequest__Output } from './runtime/v1alpha2/VersionRequest.js';
import type { VersionResponse as _runtime_v1alpha2_VersionResponse, VersionResponse__Output as _runtime_v1alpha2_VersionResponse__Output } from './runtime/v1alpha2/VersionResponse.js';
import type { WindowsContainerConfig as _runtime_v1alpha2_WindowsContainerConfig, WindowsContainerConfig__Output as _runtime_v1alpha2_WindowsContainerConfig__Output } from './runtime/v1alpha2/WindowsContainerConfig.js';
import type { WindowsContainerResources as _runtime_v1alpha2_WindowsContainerResources, WindowsContainerResources__Output as _runtime_v1alpha2_WindowsContainerResources__Output } from './runtime/v1alpha2/WindowsContainerResources.js';
import type { WindowsContainerSecurityContext as _runtime_v1alpha2_WindowsContainerSecurityContext, WindowsContainerSecurityContext__Output as _runtime_v1alpha2_WindowsContainerSecurityContext__Output } from './runtime/v1alpha2/WindowsContainerSecurityContext.js';
import type { WindowsPodSandboxConfig as _runtime_v1alpha2_WindowsPodSandboxConfig, WindowsPodSandboxConfig__Output as _runtime_v1alpha2_WindowsPodSandboxConfig__Output } from './runtime/v1alpha2/WindowsPodSandboxConfig.js';
import type { WindowsPodSandboxStats as _runtime_v1alpha2_WindowsPodSandboxStats, WindowsPodSandboxStats__Output as _runtime_v1alpha2_WindowsPodSandboxStats__Output } from './runtime/v1alpha2/WindowsPodSandboxStats.js';
import type { WindowsSandboxSecurityContext as _runtime_v1alpha2_WindowsSandboxSecurityContext, WindowsSandboxSecurityContext__Output as _runtime_v1alpha2_WindowsSandboxSecurityContext__Output } from './runtime/v1alpha2/WindowsSandboxSecurityContext.js';

type SubtypeConstructor<Constructor extends new (...args: any) => any, Subtype> = {
  new(...args: ConstructorParameters<Constructor>): Subtype;
};

export interface ProtoGrpcType {
  runtime: {
    v1alpha2: {
      AttachRequest: MessageTypeDefinition<_runtime_v1alpha2_AttachRequest, _runtime_v1alpha2_AttachRequest__Output>
      AttachResponse: MessageTypeDefinition<_runtime_v1alpha2_AttachResponse, _runtime_v1alpha2_AttachResponse__Output>
      AuthConfig: MessageTypeDefinition<_runtime_v1alpha2_AuthConfig, _runtime_v1alpha2_AuthConfig__Output>
      Capability: MessageTypeDefinition<_runtime_v1alpha2_Capability, _runtime_v1alpha2_Capability__Output>
      Container: MessageTypeDefinition<_runtime_v1alpha2_Container, _runtime_v1alpha2_Container__Output>
      ContainerAttributes: MessageTypeDefinition<_runtime_v1alpha2_ContainerAttributes, _runtime_v1alpha2_ContainerAttributes__Output>
      ContainerConfig: MessageTypeDefinition<_runtime_v1alpha2_ContainerConfig, _runtime_v1alpha2_ContainerConfig__Output>
      ContainerFilter: MessageTypeDefinition<_runtime_v1alpha2_ContainerFilter, _runtime_v1alpha2_ContainerFilter__Output>
      ContainerMetadata: MessageTypeDefinition<_runtime_v1alpha2_ContainerMetadata, _runtime_v1alpha2_ContainerMetadata__Output>
      ContainerResources: MessageTypeDefinition<_runtime_v1alpha2_ContainerResources, _runtime_v1alpha2_ContainerResources__Output>
      ContainerState: EnumTypeDefinition
      ContainerStateValue: MessageTypeDefinition<_runtime_v1alpha2_ContainerStateValue, _runtime_v1alpha2_ContainerStateValue__Output>
      ContainerStats: MessageTypeDefinition<_runtime_v1alpha2_ContainerStats, _runtime_v1alpha2_ContainerStats__Output>
      ContainerStatsFilter: MessageTypeDefinition<_runtime_v1alpha2_ContainerStatsFilter, _runtime_v1alpha2_ContainerStatsFilter__Output>
      ContainerStatsRequest: MessageTypeDefinition<_runtime_v1alpha2_ContainerStatsRequest, _runtime_v1alpha2_ContainerStatsRequest__Output>
      ContainerStatsResponse: MessageTypeDefinition<_runtime_v1alpha2_ContainerStatsResponse, _runtime_v1alpha2_ContainerStatsResponse__Output>
      ContainerStatus: MessageTypeDefinition<_runtime_v1alpha2_ContainerStatus, _runtime_v1alpha2_ContainerStatus__Output>
      ContainerStatusRequest: MessageTypeDefinition<_runtime_v1alpha2_ContainerStatusRequest, _runtime_v1alpha2_ContainerStatusRequest__Output>
      ContainerStatusResponse: MessageTypeDefinition<_runtime_v1alpha2_ContainerStatusResponse, _runtime_v1alpha2_ContainerStatusResponse__Output>
      CpuUsage: MessageTypeDefinition<_runtime_v1alpha2_CpuUsage, _runtime_v1alpha2_CpuUsage__Output>
      CreateContainerRequest: MessageTypeDefinition<_runtime_v1alpha2_CreateContainerRequest, _runtime_v1alpha2_CreateContainerRequest__Output>
      CreateContainerResponse: MessageTypeDefinition<_runtime_v1alpha2_CreateContainerResponse, _runtime_v1alpha2_CreateContainerResponse__Output>
      DNSConfig: MessageTypeDefinition<_runtime_v1alpha2_DNSConfig, _runtime_v1alpha2_DNSConfig__Output>
      Device: MessageTypeDefinition<_runtime_v1alpha2_Device, _runtime_v1alpha2_Device__Output>
      ExecRequest: MessageTypeDefinition<_runtime_v1alpha2_ExecRequest, _runtime_v1alpha2_ExecRequest__Output>
      ExecResponse: MessageTypeDefinition<_runtime_v1alpha2_ExecResponse, _runtime_v1alpha2_ExecResponse__Output>
      ExecSyncRequest: MessageTypeDefinition<_runtime_v1alpha2_ExecSyncRequest, _runtime_v1alpha2_ExecSyncRequest__Output>
      ExecSyncResponse: MessageTypeDefinition<_runtime_v1alpha2_ExecSyncResponse, _runtime_v1alpha2_ExecSyncResponse__Output>
      FilesystemIdentifier: MessageTypeDefinition<_runtime_v1alpha2_FilesystemIdentifier, _runtime_v1alpha2_FilesystemIdentifier__Output>
      FilesystemUsage: MessageTypeDefinition<_runtime_v1alpha2_FilesystemUsage, _runtime_v1alpha2_FilesystemUsage__Output>
      HugepageLimit: MessageTypeDefinition<_runtime_v1alpha2_HugepageLimit, _runtime_v1alpha2_HugepageLimit__Output>
      IDMapping: MessageTypeDefinition<_runtime_v1alpha2_IDMapping, _runtime_v1alpha2_IDMapping__Output>
      Image: MessageTypeDefinition<_runtime_v1alpha2_Image, _runtime_v1alpha2_Image__Output>
      ImageFilter: MessageTypeDefinition<_runtime_v1alpha2_ImageFilter, _runtime_v1alpha2_ImageFilter__Output>
      ImageFsInfoRequest: MessageTypeDefinition<_runtime_v1alpha2_ImageFsInfoRequest, _runtime_v1alpha2_ImageFsInfoRequest__Output>
      ImageFsInfoResponse: MessageTypeDefinition<_runtime_v1alpha2_ImageFsInfoResponse, _runtime_v1alpha2_ImageFsInfoResponse__Output>
      ImageService: SubtypeConstructor<typeof grpc.Client, _runtime_v1alpha2_ImageServiceClient> & { service: _runtime_v1alpha2_ImageServiceDefinition }
      ImageSpec: MessageTypeDefinition<_runtime_v1alpha2_ImageSpec, _runtime_v1alpha2_ImageSpec__Output>
      ImageStatusRequest: MessageTypeDefinition<_runtime_v1alpha2_ImageStatusRequest, _runtime_v1alpha2_ImageStatusRequest__Output>
      ImageStatusResponse: MessageTypeDefinition<_runtime_v1alpha2_ImageStatusResponse, _runtime_v1alpha2_ImageStatusResponse__Output>
      Int64Value: MessageTypeDefinition<_runtime_v1alpha2_Int64Value, _runtime_v1alpha2_Int64Value__Output>
      KeyValue: MessageTypeDefinition<_runtime_v1alpha2_KeyValue, _runtime_v1alpha2_KeyValue__Output>
      LinuxContainerConfig: MessageTypeDefinition<_runtime_v1alpha2_LinuxContainerConfig, _runtime_v1alpha2_LinuxContainerConfig__Output>
      LinuxContainerResources: MessageTypeDefinition<_runtime_v1alpha2_LinuxContainerResources, _runtime_v1alpha2_LinuxContainerResources__Output>
      LinuxContainerSecurityContext: MessageTypeDefinition<_runtime_v1alpha2_LinuxContainerSecurityContext, _runtime_v1alpha2_LinuxContainerSecurityContext__Output>
      LinuxPodSandboxConfig: MessageTypeDefinition<_runtime_v1alpha2_LinuxPodSandboxConfig, _runtime_v1alpha2_LinuxPodSandboxConfig__Output>
      LinuxPodSandboxStats: MessageTypeDefinition<_runtime_v1alpha2_LinuxPodSandboxStats, _runtime_v1alpha2_LinuxPodSandboxStats__Output>
      LinuxPodSandboxStatus: MessageTypeDefinition<_runtime_v1alpha2_LinuxPodSandboxStatus, _runtime_v1alpha2_LinuxPodSandboxStatus__Output>
      LinuxSandboxSecurityContext: MessageTypeDefinition<_runtime_v1alpha2_LinuxSandboxSecurityContext, _runtime_v1alpha2_LinuxSandboxSecurityContext__Output>
      ListContainerStatsRequest: MessageTypeDefinition<_runtime_v1alpha2_ListContainerStatsRequest, _runtime_v1alpha2_ListContainerStatsRequest__Output>
      ListContainerStatsResponse: MessageTypeDefinition<_runtime_v1alpha2_ListContainerStatsResponse, _runtime_v1alpha2_ListContainerStatsResponse__Output>
      ListContainersRequest: MessageTypeDefinition<_runtime_v1alpha2_ListContainersRequest, _runtime_v1alpha2_ListContainersRequest__Output>
      ListContainersResponse: MessageTypeDefinition<_runtime_v1alpha2_ListContainersResponse, _runtime_v1alpha2_ListContainersResponse__Output>
      ListImagesRequest: MessageTypeDefinition<_runtime_v1alpha2_ListImagesRequest, _runtime_v1alpha2_ListImagesRequest__Output>
      ListImagesResponse: MessageTypeDefinition<_runtime_v1alpha2_ListImagesResponse, _runtime_v1alpha2_ListImagesResponse__Output>
      ListPodSandboxRequest: MessageTypeDefinition<_runtime_v1alpha2_ListPodSandboxRequest, _runtime_v1alpha2_ListPodSandboxRequest__Output>
      ListPodSandboxResponse: MessageTypeDefinition<_runtime_v1alpha2_ListPodSandboxResponse, _runtime_v1alpha2_ListPodSandboxResponse__Output>
      ListPodSandboxStatsRequest: MessageTypeDefinition<_runtime_v1alpha2_ListPodSandboxStatsRequest, _runtime_v1alpha2_ListPodSandboxStatsRequest__Output>
      ListPodSandboxStatsResponse: MessageTypeDefinition<_runtime_v1alpha2_ListPodSandboxStatsResponse, _runtime_v1alpha2_ListPodSandboxStatsResponse__Output>
      MemoryUsage: MessageTypeDefinition<_runtime_v1alpha2_MemoryUsage, _runtime_v1alpha2_MemoryUsage__Output>
      Mount: MessageTypeDefinition<_runtime_v1alpha2_Mount, _runtime_v1alpha2_Mount__Output>
      MountPropagation: EnumTypeDefinition
      Namespace: MessageTypeDefinition<_runtime_v1alpha2_Namespace, _runtime_v1alpha2_Namespace__Output>
      NamespaceMode: EnumTypeDefinition
      NamespaceOption: MessageTypeDefinition<_runtime_v1alpha2_NamespaceOption, _runtime_v1alpha2_NamespaceOption__Output>
      NetworkConfig: MessageTypeDefinition<_runtime_v1alpha2_NetworkConfig, _runtime_v1alpha2_NetworkConfig__Output>
      NetworkInterfaceUsage: MessageTypeDefinition<_runtime_v1alpha2_NetworkInterfaceUsage, _runtime_v1alpha2_NetworkInterfaceUsage__Output>
      NetworkUsage: MessageTypeDefinition<_runtime_v1alpha2_NetworkUsage, _runtime_v1alpha2_NetworkUsage__Output>
      PodIP: MessageTypeDefinition<_runtime_v1alpha2_PodIP, _runtime_v1alpha2_PodIP__Output>
      PodSandbox: MessageTypeDefinition<_runtime_v1alpha2_PodSandbox, _runtime_v1alpha2_PodSandbox__Output>
      PodSandboxAttributes: MessageTypeDefinition<_runtime_v1alpha2_PodSandboxAttributes, _runtime_v1alpha2_PodSandboxAttributes__Output>
      PodSandboxConfig: MessageTypeDefinition<_runtime_v1alpha2_PodSandboxConfig, _runtime_v1alpha2_PodSandboxConfig__Output>
      PodSandboxFilter: MessageTypeDefinition<_runtime_v1alpha2_PodSandboxFilter, _runtime_v1alpha2_PodSandboxFilter__Output>
      PodSandboxMetadata: MessageTypeDefinition<_runtime_v1alpha2_PodSandboxMetadata, _runtime_v1alpha2_PodSandboxMetadata__Output>
      PodSandboxNetworkStatus: MessageTypeDefinition<_runtime_v1alpha2_PodSandboxNetworkStatus, _runtime_v1alpha2_PodSandboxNetworkStatus__Output>
      PodSandboxState: EnumTypeDefinition
      PodSandboxStateValue: MessageTypeDefinition<_runtime_v1alpha2_PodSandboxStateValue, _runtime_v1alpha2_PodSandboxStateValue__Output>
      PodSandboxStats: MessageTypeDefinition<_runtime_v1alpha2_PodSandboxStats, _runtime_v1alpha2_PodSandboxStats__Output>
      PodSandboxStatsFilter: MessageTypeDefinition<_runtime_v1alpha2_PodSandboxStatsFilter, _runtime_v1alpha2_PodSandboxStatsFilter__Output>
      PodSandboxStatsRequest: MessageTypeDefinition<_runtime_v1alpha2_PodSandboxStatsRequest, _runtime_v1alpha2_PodSandboxStatsRequest__Output>
      PodSandboxStatsResponse: MessageTypeDefinition<_runtime_v1alpha2_PodSandboxStatsResponse, _runtime_v1alpha2_PodSandboxStatsResponse__Output>
      PodSandboxStatus: MessageTypeDefinition<_runtime_v1alpha2_PodSandboxStatus, _runtime_v1alpha2_PodSandboxStatus__Output>
      PodSandboxStatusRequest: MessageTypeDefinition<_runtime_v1alpha2_PodSandboxStatusRequest, _runtime_v1alpha2_PodSandboxStatusRequest__Output>
      PodSandboxStatusResponse: MessageTypeDefinition<_runtime_v1alpha2_PodSandboxStatusResponse, _runtime_v1alpha2_PodSandboxStatusResponse__Output>
      PortForwardRequest: MessageTypeDefinition<_runtime_v1alpha2_PortForwardRequest, _runtime_v1alpha2_PortForwardRequest__Output>
      PortForwardResponse: MessageTypeDefinition<_runtime_v1alpha2_PortForwardResponse, _runtime_v1alpha2_PortForwardResponse__Output>
      PortMapping: MessageTypeDefinition<_runtime_v1alpha2_PortMapping, _runtime_v1alpha2_PortMapping__Output>
      ProcessUsage: MessageTypeDefinition<_runtime_v1alpha2_ProcessUsage, _runtime_v1alpha2_ProcessUsage__Output>
      Protocol: EnumTypeDefinition
      PullImageRequest: MessageTypeDefinition<_runtime_v1alpha2_PullImageRequest, _runtime_v1alpha2_PullImageRequest__Output>
      PullImageResponse: MessageTypeDefinition<_runtime_v1alpha2_PullImageResponse, _runtime_v1alpha2_PullImageResponse__Output>
      RemoveContainerRequest: MessageTypeDefinition<_runtime_v1alpha2_RemoveContainerRequest, _runtime_v1alpha2_RemoveContainerRequest__Output>
      RemoveContainerResponse: MessageTypeDefinition<_runtime_v1alpha2_RemoveContainerResponse, _runtime_v1alpha2_RemoveContainerResponse__Output>
      RemoveImageRequest: MessageTypeDefinition<_runtime_v1alpha2_RemoveImageRequest, _runtime_v1alpha2_RemoveImageRequest__Output>
      RemoveImageResponse: MessageTypeDefinition<_runtime_v1alpha2_RemoveImageResponse, _runtime_v1alpha2_RemoveImageResponse__Output>
      RemovePodSandboxRequest: MessageTypeDefinition<_runtime_v1alpha2_RemovePodSandboxRequest, _runtime_v1alpha2_RemovePodSandboxRequest__Output>
      RemovePodSandboxResponse: MessageTypeDefinition<_runtime_v1alpha2_RemovePodSandboxResponse, _runtime_v1alpha2_RemovePodSandboxResponse__Output>
      ReopenContainerLogRequest: MessageTypeDefinition<_runtime_v1alpha2_ReopenContainerLogRequest, _runtime_v1alpha2_ReopenContainerLogRequest__Output>
      ReopenContainerLogResponse: MessageTypeDefinition<_runtime_v1alpha2_ReopenContainerLogResponse, _runtime_v1alpha2_ReopenContainerLogResponse__Output>
      RunPodSandboxRequest: MessageTypeDefinition<_runtime_v1alpha2_RunPodSandboxRequest, _runtime_v1alpha2_RunPodSandboxRequest__Output>
      RunPodSandboxResponse: MessageTypeDefinition<_runtime_v1alpha2_RunPodSandboxResponse, _runtime_v1alpha2_RunPodSandboxResponse__Output>
      RuntimeCondition: MessageTypeDefinition<_runtime_v1alpha2_RuntimeCondition, _runtime_v1alpha2_RuntimeCondition__Output>
      RuntimeConfig: MessageTypeDefinition<_runtime_v1alpha2_RuntimeConfig, _runtime_v1alpha2_RuntimeConfig__Output>
      RuntimeService: SubtypeConstructor<typeof grpc.Client, _runtime_v1alpha2_RuntimeServiceClient> & { service: _runtime_v1alpha2_RuntimeServiceDefinition }
      RuntimeStatus: MessageTypeDefinition<_runtime_v1alpha2_RuntimeStatus, _runtime_v1alpha2_RuntimeStatus__Output>
      SELinuxOption: MessageTypeDefinition<_runtime_v1alpha2_SELinuxOption, _runtime_v1alpha2_SELinuxOption__Output>
      SecurityProfile: MessageTypeDefinition<_runtime_v1alpha2_SecurityProfile, _runtime_v1alpha2_SecurityProfile__Output>
      StartContainerRequest: MessageTypeDefinition<_runtime_v1alpha2_StartContainerRequest, _runtime_v1alpha2_StartContainerRequest__Output>
      StartContainerResponse: MessageTypeDefinition<_runtime_v1alpha2_StartContainerResponse, _runtime_v1alpha2_StartContainerResponse__Output>
      StatusRequest: MessageTypeDefinition<_runtime_v1alpha2_StatusRequest, _runtime_v1alpha2_StatusRequest__Output>
      StatusResponse: MessageTypeDefinition<_runtime_v1alpha2_StatusResponse, _runtime_v1alpha2_StatusResponse__Output>
      StopContainerRequest: MessageTypeDefinition<_runtime_v1alpha2_StopContainerRequest, _runtime_v1alpha2_StopContainerRequest__Output>
      StopContainerResponse: MessageTypeDefinition<_runtime_v1alpha2_StopContainerResponse, _runtime_v1alpha2_StopContainerResponse__Output>
      StopPodSandboxRequest: MessageTypeDefinition<_runtime_v1alpha2_StopPodSandboxRequest, _runtime_v1alpha2_StopPodSandboxRequest__Output>
      StopPodSandboxResponse: MessageTypeDefinition<_runtime_v1alpha2_StopPodSandboxResponse, _runtime_v1alpha2_StopPodSandboxResponse__Output>
      UInt64Value: MessageTypeDefinition<_runtime_v1alpha2_UInt64Value, _runtime_v1alpha2_UInt64Value__Output>
      UpdateContainerResourcesRequest: MessageTypeDefinition<_runtime_v1alpha2_UpdateContainerResourcesRequest, _runtime_v1alpha2_UpdateContainerResourcesRequest__Output>
      UpdateContainerResourcesResponse: MessageTypeDefinition<_runtime_v1alpha2_UpdateContainerResourcesResponse, _runtime_v1alpha2_UpdateContainerResourcesResponse__Output>
      UpdateRuntimeConfigRequest: MessageTypeDefinition<_runtime_v1alpha2_UpdateRuntimeConfigRequest, _runtime_v1alpha2_UpdateRuntimeConfigRequest__Output>
      UpdateRuntimeConfigResponse: MessageTypeDefinition<_runtime_v1alpha2_UpdateRuntimeConfigResponse, _runtime_v1alpha2_UpdateRuntimeConfigResponse__Output>
      UserNamespace: MessageTypeDefinition<_runtime_v1alpha2_UserNamespace, _runtime_v1alpha2_UserNamespace__Output>
      VersionRequest: MessageTypeDefinition<_runtime_v1alpha2_VersionRequest, _runtime_v1alpha2_VersionRequest__Output>
      VersionResponse: MessageTypeDefinition<_runtime_v1alpha2_VersionResponse, _runtime_v1alpha2_VersionResponse__Output>
      WindowsContainerConfig: MessageTypeDefinition<_runtime_v1alpha2_WindowsContainerConfig, _runtime_v1alpha2_WindowsContainerConfig__Output>
      WindowsContainerResources: MessageTypeDefinition<_runtime_v1alpha2_WindowsContainerResources, _runtime_v1alpha2_WindowsContainerResources__Output>
      WindowsContainerSecurityContext: MessageTypeDefinition<_runtime_v1alpha2_WindowsContainerSecurityContext, _runtime_v1alpha2_WindowsContainerSecurityContext__Output>
      WindowsPodSandboxConfig: MessageTypeDefinition<_runtime_v1alpha2_WindowsPodSandboxConfig, _runtime_v1alpha2_WindowsPodSandboxConfig__Output>
      WindowsPodSandboxStats: MessageTypeDefinition<_runtime_v1alpha2_WindowsPodSandboxStats, _runtime_v1alpha2_WindowsPodSandboxStats__Output>
      WindowsSandboxSecurityContext: MessageTypeDefinition<_runtime_v1alpha2_WindowsSandboxSecurityContext, _runtime_v1alpha2_WindowsSandboxSecurityContext__Output>
    }
  }
}

